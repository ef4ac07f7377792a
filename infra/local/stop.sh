#!/usr/bin/env bash
# Stops what start.sh started (by the pids in <cache>/stack/*.pid, and only if those pids are
# still our services), removes the pid files and the env file. Safe when nothing runs.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ -d "$STACK_DIR" ] || exit 0
take_lock "$STACK_DIR/.start.lock"
stop_service dynamodb "$(ddb_signature)"
stop_service moto "$(moto_signature)"
rm -f "$STACK_DIR/env"
