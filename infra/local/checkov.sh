#!/usr/bin/env bash
# CI's static security check of template.yaml: installs checkov (pinned below) into
# <cache>/checkov-venv, the same way install.sh builds its venvs (a marker file holding the venv's
# path and pins; a second run takes well under a second), then runs it on the template with the
# CloudFormation framework (checkov renders the SAM transform's resources itself). Exits nonzero on
# any failed check. A check that does not apply is skipped in template.yaml itself, at the
# resource, with a `checkov:skip=CKV_…:reason` comment: the reason is reviewed with the template.
#   KEYGATE_CACHE  cache folder (default <repo>/.cache)
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CHECKOV_REQUIREMENTS=("checkov==3.3.30")
CHECKOV_VENV="$KEYGATE_CACHE/checkov-venv"

# As install.sh's make_venv: a virtualenv at CHECKOV_VENV holding exactly these pins, rebuilt when
# the cache moved or its interpreter no longer runs.
install_checkov() {
    local dir=$CHECKOV_VENV marker=$CHECKOV_VENV/.keygate-installed want
    want=$(printf '%s\n' "$dir" "${CHECKOV_REQUIREMENTS[@]}")
    if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] && "$dir/bin/python" -c '' 2>/dev/null; then
        return 0
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found"
    if [ -d "$dir" ] && { ! "$dir/bin/python" -c '' 2>/dev/null || ! head -n1 "$marker" 2>/dev/null | grep -qxF "$dir"; }; then
        rm -rf "$dir"
    fi
    log "installing ${CHECKOV_REQUIREMENTS[*]} into $dir"
    [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "${CHECKOV_REQUIREMENTS[@]}" >&2
    printf '%s' "$want" >"$marker"
}

(
    take_lock "$KEYGATE_CACHE/.install.lock"
    install_checkov
)

cd "$KEYGATE_REPO_ROOT"
# No update check and no download of policies or guidelines (--skip-download): the checks are the
# ones bundled with the pinned version, and the run needs no network.
export CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE
"$CHECKOV_VENV/bin/checkov" --version
"$CHECKOV_VENV/bin/checkov" --file template.yaml --framework cloudformation \
    --compact --quiet --skip-download
log "checkov: template.yaml passes (the skips are explained in the template)"
