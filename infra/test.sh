#!/usr/bin/env bash
# Runs every test of keygate: installs and starts the local stack (DynamoDB Local, moto) if it is
# not running, installs the browser and the certified OAuth client the end-to-end tests use, then
# the whole workspace's tests against it (tests/tests/it/interop.rs among them: oauth4webapi
# against keygate). Nothing but Rust, Python, Node and Java is assumed to be installed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash infra/local/start.sh
set -a
# shellcheck disable=SC1091
source "${KEYGATE_CACHE:-$root/.cache}/stack/env"
set +a

if [ "${CI:-}" = "true" ]; then
    # In CI the stack goes away with the run; locally it stays up for the next run.
    trap 'bash infra/local/stop.sh || true' EXIT
fi

# Debian's Chromium and ChromeDriver, for the consent page's browser test.
bash infra/browser/install.sh
# The certified client the interop test drives keygate with (oauth4webapi, pinned).
bash infra/interop/install.sh

# A failing test's message is the last thing before the summary, not under a backtrace that
# pushes it out of what a CI log keeps (rerun one test with RUST_BACKTRACE=1 for its frames).
RUST_BACKTRACE=0 cargo test --workspace --locked

# The API description against the running local server (no 5xx, every response in the schema).
bash infra/schemathesis.sh
