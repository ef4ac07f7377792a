#!/usr/bin/env bash
# Installs Debian's headless browser for the consent-page test (tests/tests/it/consent_browser.rs):
# `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver), and the tools the
# README's integrator flows use (`curl`, `jq`, `openssl`; tests/tests/it/readme_flows.rs runs them).
# Idempotent: does nothing when all are present, and runs `apt-get update` at most once per call.
set -euo pipefail

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
