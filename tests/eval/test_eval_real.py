"""Shown on real data: the default model on GPQA-Diamond, GSM8K and HumanEval (greedy, all 164),
with bootstrap intervals and each run's wall-clock on the engine and on transformers; and, when
lm-evaluation-harness is available (LM_EVAL_PYTHON), equal multiple-choice accuracy.

Slow (about two hours on 2 CPU cores, an hour of it GSM8K on the engine): runs only with
LMFORGE_SLOW=1. The transformers-vs-engine GSM8K wall-clock uses the first LMFORGE_GSM8K_N
problems (default 100: transformers on all 1,319 would take hours more); the GSM8K score is the
engine's on all 1,319.
"""

import json
import os
from pathlib import Path

import pytest

from lmforge.eval.backends import make_backend
from lmforge.eval.runner import run_task
from lmforge.eval.taskspec import load_task

# The suite's 15-minute per-test timeout would cut GPQA and the full GSM8K run short.
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(4 * 3600)]
OUT = Path(os.environ.get("LMFORGE_EVAL_FIGURES", "eval-figures.json"))


@pytest.fixture(scope="module")
def backends(default_model_dir):
    return {k: make_backend(k, str(default_model_dir), batch_size=16) for k in ("hf", "engine")}


def _record(name: str, result: dict) -> None:
    data = json.loads(OUT.read_text()) if OUT.is_file() else {}
    data[name] = {"n": result["n"], "wall_s": result["wall_s"], "scores": result["scores"]}
    OUT.write_text(json.dumps(data, indent=1))


def test_gpqa_diamond_all_198(backends):
    result = run_task(load_task("gpqa_diamond"), backends["hf"])
    _record("gpqa_diamond/hf", result)
    assert result["n"] == 198
    acc = result["scores"]["acc"]
    assert 0.0 < acc["low"] <= acc["value"] <= acc["high"] < 1.0


@pytest.mark.parametrize("backend", ["engine", "hf"])
def test_humaneval_all_164_greedy(backends, backend):
    result = run_task(load_task("humaneval"), backends[backend])
    _record(f"humaneval/{backend}", result)
    assert result["n"] == 164
    p = result["scores"]["pass@1"]
    assert p["low"] <= p["value"] <= p["high"]


@pytest.mark.parametrize("backend", ["engine", "hf"])
def test_gsm8k_same_items_on_both_backends(backends, backend):
    n = int(os.environ.get("LMFORGE_GSM8K_N", "100"))
    result = run_task(load_task("gsm8k"), backends[backend], limit=n)
    _record(f"gsm8k_first{n}/{backend}", result)
    assert result["n"] == n
    em = result["scores"]["exact_match,flexible"]
    assert em["low"] <= em["value"] <= em["high"]


def test_gsm8k_all_1319_on_the_engine(backends):
    result = run_task(load_task("gsm8k"), backends["engine"])
    _record("gsm8k/engine", result)
    assert result["n"] == 1319
    for name in ("exact_match,strict", "exact_match,flexible"):
        em = result["scores"][name]
        assert em["low"] <= em["value"] <= em["high"]


def test_mc_accuracy_equals_lm_evaluation_harness(default_model_dir, tmp_path, backends):
    python = os.environ.get("LM_EVAL_PYTHON")
    if not python:
        pytest.skip("set LM_EVAL_PYTHON to a Python that has lm-eval installed")
    from lmforge.eval.lm_eval_check import compare_items, export_task, run_lm_eval

    spec = load_task("gpqa_diamond")
    theirs = run_lm_eval(python, default_model_dir, export_task(spec, None, tmp_path))
    ours = run_task(spec, backends["hf"])
    check = compare_items(ours["items"], theirs)
    assert check["differing_items"] == [], check
    assert check["ours"] == pytest.approx(check["lm_eval"])
