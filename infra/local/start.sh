#!/usr/bin/env bash
# Starts the local stack: DynamoDB Local and moto (SQS + Secrets Manager) on free loopback ports,
# creates the resources of template.yaml in them (bootstrap.py), and writes
# <cache>/stack/env, a file of `export` lines to `source`. Pids and logs are in <cache>/stack/.
# Idempotent: a stack that is already running and answering is reused (env is rewritten); a
# stale pid file is cleaned up. Stop with stop.sh.
#   KEYGATE_CACHE          cache folder (default <repo>/.cache); one stack per cache
#   KEYGATE_TABLE          table name (default keygate-local)
#   KEYGATE_VOLATILE_TABLE the short-lived items' table (default <KEYGATE_TABLE>-volatile)
#   KEYGATE_STACK_TIMEOUT  seconds to wait for each service to answer (default 60)
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$KEYGATE_LOCAL_DIR/install.sh"
command -v java >/dev/null 2>&1 || die "java not found (DynamoDB Local needs Java 17)"

take_lock "$STACK_DIR/.start.lock"

PY="$VENV/bin/python"
BOOTSTRAP="$KEYGATE_LOCAL_DIR/bootstrap.py"
TIMEOUT=${KEYGATE_STACK_TIMEOUT:-60}
DDB_DIR=$(find_ddb_dir)

# service_up NAME SIGNATURE: its pid file names a live process of ours that answers HTTP.
service_up() {
    local pid port
    pid=$(cat "$STACK_DIR/$1.pid" 2>/dev/null) || return 1
    port=$(cat "$STACK_DIR/$1.port" 2>/dev/null) || return 1
    pid_is "$pid" "$2" && "$PY" "$BOOTSTRAP" probe "http://127.0.0.1:$port/"
}

# The command line of a service listening on PORT.
service_command() {
    case $1 in
        dynamodb)
            # -sharedDb: one database whatever the caller's keys and region.
            printf '%s\0' java "-Djava.library.path=$DDB_DIR/DynamoDBLocal_lib" \
                -jar "$DDB_DIR/DynamoDBLocal.jar" -inMemory -sharedDb -disableTelemetry -port "$2" ;;
        moto)
            printf '%s\0' "$VENV/bin/moto_server" -H 127.0.0.1 -p "$2" ;;
    esac
}

# launch NAME PORT: starts the service in a session of its own (a closing terminal does not take
# it down) and writes its pid file. The service must not inherit fd 9, the lock of this script:
# it would hold the lock for its whole life and block every later start.sh.
launch() {
    local name=$1 port=$2 pidfile=$STACK_DIR/$1.pid i
    local -a cmd
    mapfile -d '' -t cmd < <(service_command "$name" "$port")
    rm -f "$pidfile"
    printf '%s\n' "$port" >"$STACK_DIR/$name.port"
    if command -v setsid >/dev/null 2>&1; then
        # shellcheck disable=SC2016  # $$ and $@ are the inner bash's own
        # The child writes its own pid, then execs the service: right whether or not setsid forks.
        # It runs in the stack folder: DynamoDB Local writes its working file
        # (dynamodb-local-metadata.json) into the current directory.
        setsid bash -c 'cd "$2" && echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && shift 2 && exec "$@"' _ "$pidfile" "$STACK_DIR" "${cmd[@]}" \
            </dev/null >"$STACK_DIR/$name.log" 2>&1 9>&- &
        for ((i = 0; i < 100; i++)); do
            [ -s "$pidfile" ] && return 0
            sleep 0.05
        done
        die "$name did not start (no pid file after 5 s); see $STACK_DIR/$name.log"
    else
        (cd "$STACK_DIR" && exec "${cmd[@]}") </dev/null >"$STACK_DIR/$name.log" 2>&1 9>&- &
        echo $! >"$pidfile"
    fi
}

# wait_ready NAME PORT: 0 once it answers, 2 if it died first, 1 on timeout.
wait_ready() {
    local pid deadline=$((SECONDS + TIMEOUT))
    pid=$(cat "$STACK_DIR/$1.pid")
    while :; do
        "$PY" "$BOOTSTRAP" probe "http://127.0.0.1:$2/" && return 0
        kill -0 "$pid" 2>/dev/null || return 2
        ((SECONDS < deadline)) || return 1
        sleep 0.25
    done
}

# ensure NAME SIGNATURE: reuse the running service or start a fresh one on a free port. A port
# picked free can be taken before the service binds it, so a start that dies of that is retried.
ensure() {
    local name=$1 signature=$2 attempt port status
    if service_up "$name" "$signature"; then
        REUSED+=("$name")
        return 0
    fi
    stop_service "$name" "$signature"  # a stale or unanswering leftover
    for attempt in 1 2 3; do
        port=$("$PY" "$BOOTSTRAP" free-port)
        launch "$name" "$port"
        status=0
        wait_ready "$name" "$port" || status=$?
        case $status in
            0) STARTED+=("$name"); return 0 ;;
            1) stop_service "$name" "$signature"
               tail -n 20 "$STACK_DIR/$name.log" >&2 || true
               die "$name did not answer on port $port within ${TIMEOUT}s; log: $STACK_DIR/$name.log" ;;
        esac
        rm -f "$STACK_DIR/$name.pid" "$STACK_DIR/$name.port"
        if ! grep -qiE 'address already in use|BindException' "$STACK_DIR/$name.log"; then
            tail -n 20 "$STACK_DIR/$name.log" >&2 || true
            die "$name exited while starting; log: $STACK_DIR/$name.log"
        fi
        log "$name lost port $port to another process; retrying ($attempt/3)"
    done
    die "$name could not get a free port"
}

mkdir -p "$STACK_DIR"
STARTED=()
REUSED=()
ensure dynamodb "$(ddb_signature)"
ensure moto "$(moto_signature)"

DDB_URL="http://127.0.0.1:$(cat "$STACK_DIR/dynamodb.port")"
MOTO_URL="http://127.0.0.1:$(cat "$STACK_DIR/moto.port")"
resources=$("$PY" "$BOOTSTRAP" resources --dynamodb "$DDB_URL" --moto "$MOTO_URL" --env "$STACK_DIR/env")

state="started ${STARTED[*]:-nothing}; reused ${REUSED[*]:-nothing}"
echo "keygate local stack: dynamodb $DDB_URL, moto $MOTO_URL ($state); $resources; source $STACK_DIR/env"
