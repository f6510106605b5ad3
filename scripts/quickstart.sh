#!/usr/bin/env bash
# Install lmforge with everything its main job needs, then run `lmforge quickstart`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" all
venv="${LMFORGE_VENV:-$root/.venv}"
exec "$venv/bin/lmforge" quickstart "$@"
