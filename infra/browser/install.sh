#!/usr/bin/env bash
# Installs Debian's headless browser for the consent-page test (tests/tests/it/consent_browser.rs):
# `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver), and the tools the
# README's integrator flows use (`curl`, `jq`, `openssl`; tests/tests/it/readme_flows.rs runs them).
# Also axe-core (pinned, from npm) into the cache (${KEYGATE_CACHE:-<repo>/.cache}/axe), which the
# console's browser test injects into every page to check its accessibility.
# Idempotent: does nothing when all are present, and runs `apt-get update` at most once per call.
set -euo pipefail

AXE_SPEC="axe-core@4.14.1"
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
axe_dir="${KEYGATE_CACHE:-$repo_root/.cache}/axe"
if [ "$(cat "$axe_dir/.keygate-installed" 2>/dev/null || true)" != "$AXE_SPEC" ] \
    || [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
    command -v npm >/dev/null 2>&1 || { echo "install.sh: npm is needed for $AXE_SPEC" >&2; exit 1; }
    echo "installing $AXE_SPEC into $axe_dir" >&2
    mkdir -p "$axe_dir"
    npm install --prefix "$axe_dir" --no-audit --no-fund --ignore-scripts --loglevel=error "$AXE_SPEC" >&2
    [ -f "$axe_dir/node_modules/axe-core/axe.min.js" ] || { echo "install.sh: axe.min.js is missing after npm install" >&2; exit 1; }
    printf '%s' "$AXE_SPEC" >"$axe_dir/.keygate-installed"
fi

missing=()
for pkg in chromium chromium-driver curl jq openssl; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] \
    && [ -x /usr/bin/jq ] && [ -x /usr/bin/curl ] && [ -x /usr/bin/openssl ]; then
    exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
    # Marked installed but a binary is gone: reinstall them.
    missing=(chromium chromium-driver curl jq openssl)
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for bin in /usr/bin/chromium /usr/bin/chromedriver /usr/bin/jq /usr/bin/curl /usr/bin/openssl; do
    [ -x "$bin" ] || { echo "install.sh: $bin is still missing" >&2; exit 1; }
done
