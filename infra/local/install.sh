#!/usr/bin/env bash
# Installs the local stack's tools into the cache (${KEYGATE_CACHE:-<repo>/.cache}):
#   npm/      DynamoDB Local, as shipped inside the amplify-dynamodb-simulator npm package
#   venv/     moto[server] (SQS, Secrets Manager) and boto3, for start.sh and bootstrap.py
#   sam-venv/ aws-sam-cli and cargo-lambda (which brings zig), only with --sam
# Idempotent: each part leaves a marker file naming what it installed and is skipped while the
# marker matches the pins in common.sh, so a second run takes well under a second.
# Needs only node/npm, python3 and (to run DynamoDB Local later) java.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

with_sam=0
for arg in "$@"; do
    case $arg in
        --sam) with_sam=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg (use --sam or nothing)" ;;
    esac
done

take_lock "$KEYGATE_CACHE/.install.lock"

marker_is() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

install_ddb() {
    local marker="$NPM_PREFIX/.keygate-installed" dir
    if marker_is "$marker" "$DDB_SIMULATOR_SPEC" && [ -n "$(find_ddb_dir)" ]; then
        return 0
    fi
    command -v npm >/dev/null 2>&1 || die "npm not found (Node 20 is needed to install DynamoDB Local)"
    log "installing DynamoDB Local ($DDB_SIMULATOR_SPEC) into $NPM_PREFIX"
    mkdir -p "$NPM_PREFIX"
    # --ignore-scripts: the package ships the jar; nothing needs to run at install time.
    npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --ignore-scripts --loglevel=error \
        "$DDB_SIMULATOR_SPEC" >&2
    dir=$(find_ddb_dir)
    [ -n "$dir" ] || die "DynamoDBLocal.jar not found under $NPM_PREFIX/node_modules after npm install"
    [ -d "$dir/DynamoDBLocal_lib" ] || die "DynamoDBLocal_lib not found beside $dir/DynamoDBLocal.jar"
    printf '%s' "$DDB_SIMULATOR_SPEC" >"$marker"
}

# make_venv DIR REQUIREMENT... : a virtualenv at DIR holding exactly these pins.
make_venv() {
    local dir=$1 marker=$1/.keygate-installed want
    shift
    # The path is part of the marker: a venv's scripts name their interpreter by absolute path,
    # so a cache that moved needs its venvs rebuilt.
    want=$(printf '%s\n' "$dir" "$@")
    if marker_is "$marker" "$want" && "$dir/bin/python" -c '' 2>/dev/null; then
        return 0
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found"
    # A venv that moved, or whose interpreter no longer runs (python upgraded), is rebuilt.
    if [ -d "$dir" ] && { ! "$dir/bin/python" -c '' 2>/dev/null || ! head -n1 "$marker" 2>/dev/null | grep -qxF "$dir"; }; then
        rm -rf "$dir"
    fi
    log "installing $* into $dir"
    [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
    printf '%s' "$want" >"$marker"
}

install_ddb
make_venv "$VENV" "${VENV_REQUIREMENTS[@]}"
if [ "$with_sam" = 1 ]; then
    make_venv "$SAM_VENV" "${SAM_REQUIREMENTS[@]}"
fi
