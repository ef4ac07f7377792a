# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
# Shared by install.sh, start.sh, stop.sh and ci-sam.sh: paths, pinned versions, small helpers.
# Sourced, never run.

KEYGATE_LOCAL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KEYGATE_REPO_ROOT=$(cd "$KEYGATE_LOCAL_DIR/../.." && pwd)
KEYGATE_CACHE=${KEYGATE_CACHE:-$KEYGATE_REPO_ROOT/.cache}

# Pinned tool versions. Changing one re-runs that part of install.sh (the marker files hold them).
DDB_SIMULATOR_SPEC="amplify-dynamodb-simulator@2.9.30"
VENV_REQUIREMENTS=("moto[server]==5.2.5" "boto3==1.44.8")
SAM_REQUIREMENTS=("aws-sam-cli==1.170.0" "cargo-lambda==1.9.2")
# panva's certified OAuth 2.0 / FAPI 2.0 client, for the interop test (infra/interop/install.sh).
OAUTH4WEBAPI_SPEC="oauth4webapi@3.8.9"

NPM_PREFIX="$KEYGATE_CACHE/npm"
INTEROP_PREFIX="$KEYGATE_CACHE/interop"
VENV="$KEYGATE_CACHE/venv"
SAM_VENV="$KEYGATE_CACHE/sam-venv"
STACK_DIR="$KEYGATE_CACHE/stack"
PYTHON=${PYTHON:-python3}

log() { printf 'keygate-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs the rest of the calling script under an exclusive lock on FILE, so that two runs sharing
# one cache (two terminals, a test runner and a developer) never interleave. No-op without flock.
take_lock() {
    local file=$1
    mkdir -p "$(dirname "$file")"
    command -v flock >/dev/null 2>&1 || return 0
    exec 9>"$file"
    if ! flock -w 600 9; then
        die "timed out waiting for the lock $file"
    fi
}

# The directory holding DynamoDBLocal.jar inside the installed npm package, or nothing.
find_ddb_dir() {
    local jar
    [ -d "$NPM_PREFIX/node_modules" ] || return 0
    jar=$(find "$NPM_PREFIX/node_modules" -name DynamoDBLocal.jar -type f -print -quit 2>/dev/null || true)
    [ -n "$jar" ] && dirname "$jar"
    return 0
}

# pid_is PID SIGNATURE: PID is a live process whose command line contains SIGNATURE (an absolute
# path inside this cache), so a stale pid file that the kernel has since reused for some other
# process is never mistaken for ours.
pid_is() {
    local pid=$1 signature=$2
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    grep -qaF -- "$signature" "/proc/$pid/cmdline" 2>/dev/null
}

# The signature of each service of the stack (see pid_is).
ddb_signature() { printf '%s/DynamoDBLocal.jar' "$(find_ddb_dir)"; }
moto_signature() { printf '%s/bin/moto_server' "$VENV"; }

# stop_service NAME SIGNATURE: ends the process named by $STACK_DIR/NAME.pid if it is ours
# (TERM, then KILL after 10 s) and removes its pid and port files. Safe when nothing runs.
stop_service() {
    local name=$1 signature=$2 pid i
    pid=$(cat "$STACK_DIR/$name.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && pid_is "$pid" "$signature"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 40; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $name (pid $pid)"
    fi
    rm -f "$STACK_DIR/$name.pid" "$STACK_DIR/$name.port"
}
