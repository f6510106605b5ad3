#!/usr/bin/env bash
# Install lmforge with the test dependencies, then run the whole test suite.
# pytest exits 5 when it collects no tests; that is not a failure of the code under test.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" all,dev || exit $?
# The HTML report is tested in a real headless browser: Debian's chromium.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" -eq 0 ]; then
  echo "[lmforge] installing chromium for the report test"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
    || echo "[lmforge] could not install chromium; the browser test will be skipped"
fi
venv="${LMFORGE_VENV:-$root/.venv}"
cd "$root"
"$venv/bin/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "[lmforge] pytest collected no tests; treating as success"
  exit 0
fi
exit "$rc"
