"""README's two commands are the project's contract with a fresh machine; keep them honest."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


def test_readme_has_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/quickstart.sh" in readme
    assert "bash scripts/test.sh" in readme


def test_ci_runs_exactly_the_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_quickstart_script_runs_quickstart():
    text = (ROOT / "scripts" / "quickstart.sh").read_text()
    assert 'bootstrap.sh" all' in text and "quickstart" in text


# The extras the test command installs, read from it so this test cannot drift from it.
EXTRAS = re.search(r'bootstrap\.sh" (\S+)', (ROOT / "scripts" / "test.sh").read_text()).group(1)
installed = pytest.mark.skipif(
    not (VENV / f".lmforge-installed-{EXTRAS.replace(',', '-')}").exists(),
    reason="this venv was not made by scripts/bootstrap.sh",
)


@installed
def test_bootstrap_is_idempotent():
    env = {**os.environ, "LMFORGE_VENV": str(VENV)}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "bootstrap.sh"), EXTRAS],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "environment up to date" in proc.stdout


@installed
def test_no_tests_collected_is_success(tmp_path):
    """pytest exits 5 when it finds no tests; the test command treats that as success."""
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "LMFORGE_VENV": str(VENV)}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test.sh"), str(empty), "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "collected no tests" in proc.stdout
