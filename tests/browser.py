"""A real headless browser for the UI tests: Debian's Chromium, driven by Playwright.

Playwright uses the system Chromium through `executable_path` (it downloads no browser). Where
Chromium or Playwright is missing, the tests skip, except when LMFORGE_REQUIRE_BROWSER=1
(scripts/test.sh sets it, and installs Chromium first): then they fail, so CI never skips them.
Screenshots go to test-artifacts/ at the repository root (git-ignored), or $LMFORGE_ARTIFACTS.
"""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _missing() -> str | None:
    if chromium() is None:
        return "Debian chromium is not installed (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install 'lmforge[dev]')"
    return None


def require_browser() -> None:
    """Skip (locally) or fail (CI) when the browser stack is missing."""
    why = _missing()
    if why is None:
        return
    if os.environ.get("LMFORGE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test cannot run: {why}")
    pytest.skip(why)


def artifacts_dir(name: str) -> Path:
    out = Path(os.environ.get("LMFORGE_ARTIFACTS") or ROOT / "test-artifacts") / name
    out.mkdir(parents=True, exist_ok=True)
    return out
