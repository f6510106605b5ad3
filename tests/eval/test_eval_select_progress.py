"""Stratified / sampled item selection, and progress lines in the log when not on a terminal."""

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.errors import LMForgeError
from lmforge.eval.progress import TaskProgress
from lmforge.eval.select import Selection, select_items

ITEMS = [{"id": str(i), "subject": "ab"[i // 6], "x": i} for i in range(12)]  # 6 a, then 6 b


def test_limit_per_subject_takes_the_first_n_of_each() -> None:
    got = select_items(ITEMS, Selection(per_subject=2), "t")
    assert [x["x"] for x in got] == [0, 1, 6, 7]
    with pytest.raises(LMForgeError, match="--subject-field"):
        select_items(ITEMS, Selection(per_subject=2, subject_field="topic"), "t")


def test_sample_is_seeded_and_keeps_file_order() -> None:
    a = select_items(ITEMS, Selection(sample=5, seed=1), "t")
    assert a == select_items(ITEMS, Selection(sample=5, seed=1), "t") and len(a) == 5
    assert [x["x"] for x in a] == sorted(x["x"] for x in a)
    assert a != select_items(ITEMS, Selection(sample=5, seed=2), "t")
    with pytest.raises(LMForgeError, match="one of"):
        Selection(limit=3, sample=3)


def test_progress_line_has_items_rate_and_eta(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "lmforge.eval")
    line = TaskProgress("mmlu", 200).advance(50)
    assert line.startswith("task mmlu: 50/200 items (25%)") and "items/s" in line
    assert "ETA" in line and caplog.records[-1].getMessage() == line


def test_eval_run_logs_progress_and_samples(tmp_path: Path, isolated_runs: Path) -> None:
    data = tmp_path / "d.jsonl"
    rows = [{"question": f"q{i}", "answer": "4", "pred": "4", "subject": "ab"[i % 2]}
            for i in range(40)]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    task = tmp_path / "t.yaml"
    task.write_text(
        f"name: t\nkind: generate\ndata: {{path: {data}}}\nprediction_field: pred\n"
        "metrics: [exact_match]\n"
    )
    r = CliRunner().invoke(app, ["eval", "run", "--tasks", str(task), "--limit-per-subject", "5"])
    assert r.exit_code == 0, r.output
    (run,) = isolated_runs.iterdir()
    log = (run / "eval.log").read_text()
    assert "task t: 10/10 items (100%)" in log and "ETA" in log
    res = json.loads((run / "results.json").read_text())
    assert res["tasks"]["t"]["n"] == 10
