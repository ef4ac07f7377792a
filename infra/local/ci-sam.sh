#!/usr/bin/env bash
# CI's SAM check: installs aws-sam-cli and cargo-lambda (with zig) into <cache>/sam-venv, then
# `sam validate --lint` and `sam build` (cargo lambda, one build per function, no Docker).
#   KEYGATE_SAM_ARCH  arm64 | x86_64 | auto (default). auto builds arm64, as the template deploys:
#                     it adds the aarch64-unknown-linux-gnu target once, here, before `sam build`
#                     (the five parallel builds would otherwise race to add it), and falls back to
#                     x86_64 only if the target cannot be added, saying so.
#   KEYGATE_SAM_SKIP_BUILD=1  validate only.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$KEYGATE_LOCAL_DIR/install.sh" --sam
export PATH="$SAM_VENV/bin:$PATH"  # sam, cargo-lambda, and python3 with ziglang for cargo-zigbuild
export SAM_CLI_TELEMETRY=0
cd "$KEYGATE_REPO_ROOT"

sam --version
sam validate --lint

if [ "${KEYGATE_SAM_SKIP_BUILD:-0}" = 1 ]; then
    exit 0
fi

arch=${KEYGATE_SAM_ARCH:-auto}
if [ "$arch" = auto ]; then
    if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu ||
        rustup target add aarch64-unknown-linux-gnu >&2; then
        arch=arm64
    else
        arch=x86_64
        log "the aarch64-unknown-linux-gnu target cannot be added: building for x86_64" \
            "(Architecture=x86_64); deploy builds need 'rustup target add aarch64-unknown-linux-gnu'"
    fi
fi
case $arch in
    arm64|x86_64) ;;
    *) die "KEYGATE_SAM_ARCH must be arm64, x86_64 or auto, not '$arch'" ;;
esac

cargo lambda --version
sam build --parameter-overrides "Architecture=$arch"
for fn in TokenFunction AuthTokensFunction ClientAppsFunction VerifyFunction WebhooksFunction; do
    [ -x ".aws-sam/build/$fn/bootstrap" ] || die "sam build left no .aws-sam/build/$fn/bootstrap"
done
log "sam build: five bootstrap binaries for $arch in .aws-sam/build/"
