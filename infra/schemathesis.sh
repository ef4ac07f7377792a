#!/usr/bin/env bash
# Runs schemathesis (PyPI, pinned below) against the local API server with infra/openapi.yaml:
# no response may be a 5xx, every response's status, content type, headers and body must be what
# the spec says (DESIGN.md "Local"), and every operation that declares a credential must refuse a
# request without it or with an invalid one (`ignored_auth`: 401 or 403, never a 2xx and never
# the 400 a malformed Authorization header once got). Exits non-zero on any failure.
#
# It installs schemathesis into its own virtualenv in the cache (idempotent), builds and starts
# keygate-local on a free loopback port on the embedded default (in-memory, whatever stack
# variables are exported), creates an account through POST /_local/accounts and sends its API
# key as `Authorization: Basic <key>` with every request, then stops the server. The OAuth token,
# pushed-request, revocation and introspection routes get a second account, on OAUTH2, and one of
# its clients' credentials (`Authorization: Basic base64(id:secret)`), so their successes are
# checked too.
#   KEYGATE_CACHE                cache folder (default <repo>/.cache)
#   SCHEMATHESIS_MAX_EXAMPLES    test cases per operation and phase (default 100)
#   SCHEMATHESIS_SEED            replay a run (schemathesis prints its seed)
#   SCHEMATHESIS_WORKERS         concurrent workers (default 2)
set -euo pipefail
# shellcheck source=SCRIPTDIR/local/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/local/common.sh"
log() { printf 'schemathesis.sh: %s\n' "$*" >&2; }

SCHEMATHESIS_VERSION=4.32.5
root=$KEYGATE_REPO_ROOT
venv=$KEYGATE_CACHE/schemathesis-venv
work=$KEYGATE_CACHE/schemathesis
spec=$root/infra/openapi.yaml
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
workers=${SCHEMATHESIS_WORKERS:-2}
started=$SECONDS

# --- schemathesis, in its own venv --------------------------------------------------------------
# The marker names the venv's path and the pin: a moved cache or a new pin rebuilds it; a match
# (and a working interpreter) skips the install.
(
    take_lock "$KEYGATE_CACHE/.schemathesis-install.lock"
    want=$(printf '%s\n' "$venv" "schemathesis==$SCHEMATHESIS_VERSION")
    if [ "$(cat "$venv/.keygate-installed" 2>/dev/null)" = "$want" ] &&
        "$venv/bin/python" -c '' 2>/dev/null; then
        exit 0
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found"
    log "installing schemathesis==$SCHEMATHESIS_VERSION into $venv"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" >&2
    printf '%s' "$want" >"$venv/.keygate-installed"
)
st=$venv/bin/schemathesis
py=$venv/bin/python

# --- the local API server -----------------------------------------------------------------------
log "building keygate-local"
(cd "$root" && cargo build --locked --quiet -p keygate-local --bin keygate-local)
bin=${CARGO_TARGET_DIR:-$root/target}/debug/keygate-local
[ -x "$bin" ] || die "$bin not found after the build"

mkdir -p "$work"
port=$("$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
base=http://127.0.0.1:$port

# A clean environment: the embedded default even when infra/test.sh has exported the local
# stack's variables (KEYGATE_TABLE and the AWS endpoints).
env -i PATH="$PATH" KEYGATE_LISTEN="127.0.0.1:$port" RUST_LOG="${RUST_LOG:-warn}" "$bin" \
    </dev/null >"$work/server.log" 2>&1 &
server=$!
stop_server() {
    if kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# Ready when it answers. Then an account whose owner's API key every request carries, and an
# OAUTH2 account with a confidential client for the OAuth routes: three lines, key, id, secret.
creds=$("$py" - "$base" "$server" <<'PY'
import json, os, sys, time, urllib.request

base, pid = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 60
while True:
    try:
        urllib.request.urlopen(base + "/.well-known/jwks.json", timeout=2).read()
        break
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit("keygate-local exited before answering")
        if time.time() > deadline:
            sys.exit("keygate-local did not answer within 60 s")
        time.sleep(0.2)


def call(method, path, body, key=None):
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = "Basic " + key
    req = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers=headers, method=method
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def account(name):
    return call("POST", "/_local/accounts", {"name": name, "ownerEmail": name + "@keygate.local"})


print(account("schemathesis")["apiKey"])
oauth_key = account("schemathesis-oauth")["apiKey"]
call("PUT", "/api/account/authSettings", {"method": "OAUTH2"}, oauth_key)
client = call("POST", "/api/oauth2/clients", {"name": "schemathesis", "scopes": ["Basic", "ISign"], "redirectUris": ["https://portal.example/cb"]}, oauth_key)
print(client["clientId"])
print(client["clientSecret"])
PY
) || { tail -n 20 "$work/server.log" >&2; die "keygate-local did not start (log: $work/server.log)"; }
api_key=$(sed -n 1p <<<"$creds")
oauth_client=$(sed -n 2p <<<"$creds"):$(sed -n 3p <<<"$creds")
log "keygate-local on $base (log: $work/server.log)"

# --- schemathesis -------------------------------------------------------------------------------
# Checks: no 5xx; credentials enforced (`ignored_auth`: after an answer that took the credential,
# the same request without it and with an invalid one of each declared scheme must be refused);
# and status, content type, headers and body as documented. Security parameters are not
# generated: the API key is the credential, and a generated Authorization header would replace
# it. No example database: nothing is written outside $work.
args=(
    --url "$base"
    --checks not_a_server_error,ignored_auth,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
    --max-examples "$max_examples"
    --workers "$workers"
    --request-timeout 10
    --generation-database none
    --generation-with-security-parameters false
)
[ -n "${SCHEMATHESIS_SEED:-}" ] && args+=(--seed "$SCHEMATHESIS_SEED")
[ -t 1 ] || args+=(--no-color)

# schemathesis keeps its own state in ./.schemathesis: run it from $work, not the repository.
cd "$work"
status=0
oauth='^/api/oauth2/(token|par|revoke|introspect)$'
# The OAuth routes take the API key too, where they must answer `invalid_client`. Regenerating
# the API key ends the key every other request carries, so that operation runs alone, last.
log "schemathesis $SCHEMATHESIS_VERSION: every operation with the API key"
"$st" run "$spec" "${args[@]}" --header "Authorization: Basic $api_key" \
    --exclude-operation-id regenerateApiKey || status=$?
log "schemathesis $SCHEMATHESIS_VERSION: the OAuth routes with a client's credentials"
"$st" run "$spec" "${args[@]}" --auth "$oauth_client" --include-path-regex "$oauth" || status=$?
log "schemathesis $SCHEMATHESIS_VERSION: regenerateApiKey"
"$st" run "$spec" "${args[@]}" --header "Authorization: Basic $api_key" \
    --include-operation-id regenerateApiKey || status=$?

if [ "$status" -ne 0 ]; then
    log "schemathesis failed (exit $status) after $((SECONDS - started)) s; server log: $work/server.log"
    exit "$status"
fi
log "schemathesis passed in $((SECONDS - started)) s"
