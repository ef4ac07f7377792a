#!/usr/bin/env bash
# Installs the certified client the interop test drives keygate with — panva's oauth4webapi,
# pinned in infra/local/common.sh (OAUTH4WEBAPI_SPEC) — into <cache>/interop
# (${KEYGATE_CACHE:-<repo>/.cache}), where tests/tests/it/interop.rs finds it. Idempotent: a
# marker names the installed pin, and a second run with the same pin does nothing. Needs only
# node (20 or later) and npm.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../local/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../local/common.sh"

take_lock "$KEYGATE_CACHE/.interop-install.lock"

marker="$INTEROP_PREFIX/.keygate-installed"
if [ "$(cat "$marker" 2>/dev/null)" = "$OAUTH4WEBAPI_SPEC" ] \
    && [ -f "$INTEROP_PREFIX/node_modules/oauth4webapi/build/index.js" ]; then
    exit 0
fi
command -v node >/dev/null 2>&1 || die "node not found (Node 20 or later runs the interop test)"
command -v npm >/dev/null 2>&1 || die "npm not found (it installs $OAUTH4WEBAPI_SPEC)"
log "installing $OAUTH4WEBAPI_SPEC into $INTEROP_PREFIX"
mkdir -p "$INTEROP_PREFIX"
# --ignore-scripts: the package is plain JavaScript; nothing needs to run at install time.
npm install --prefix "$INTEROP_PREFIX" --no-audit --no-fund --ignore-scripts --loglevel=error \
    --save-exact "$OAUTH4WEBAPI_SPEC" >&2
[ -f "$INTEROP_PREFIX/node_modules/oauth4webapi/build/index.js" ] \
    || die "oauth4webapi not found under $INTEROP_PREFIX/node_modules after npm install"
printf '%s' "$OAUTH4WEBAPI_SPEC" >"$marker"
