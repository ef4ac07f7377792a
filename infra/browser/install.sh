#!/usr/bin/env bash
# Installs Debian's headless browser for the consent-page test (tests/tests/consent_browser.rs):
# `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver). Idempotent: does
# nothing when both are present, and runs `apt-get update` at most once per call.
set -euo pipefail

missing=()
for pkg in chromium chromium-driver; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
    # Marked installed but a binary is gone: reinstall both.
    missing=(chromium chromium-driver)
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for bin in /usr/bin/chromium /usr/bin/chromedriver; do
    [ -x "$bin" ] || { echo "install.sh: $bin is still missing" >&2; exit 1; }
done
