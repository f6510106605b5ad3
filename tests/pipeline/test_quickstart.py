"""The quickstart: its crawl is curated as designed (every kind of noise caught, clean pages
kept), and the embedded pipeline runs end to end on a tiny config through `lmforge quickstart`."""

import collections
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.pipeline.crawl import LABELS, make_crawl
from lmforge.pipeline.eval_kinds import sentence
from lmforge.pipeline.quickstart import EMBEDDED
from lmforge.runs import load_manifest


def test_crawl_is_seeded_and_carries_every_kind_of_noise():
    a, b = make_crawl(n_per_label=20, seed=3), make_crawl(n_per_label=20, seed=3)
    assert a == b and a != make_crawl(n_per_label=20, seed=4)
    noise = collections.Counter(r["noise"] for r in a)
    for kind in ("clean", "boilerplate", "pii", "exact_dup", "non_english", "nav_only", "junk"):
        assert noise[kind] > 0, kind
    assert {r["source"] for r in a} == {*LABELS, "other"}
    dup = next(r for r in a if r["noise"] == "exact_dup")
    assert sum(r["text"] == dup["text"] for r in a) >= 2


def test_sentence_says_what_improved_and_whether_noise_explains_it():
    row = {"a": 0.25, "b": 0.8, "delta": 0.55, "low": 0.43, "high": 0.66, "n": 96}
    s = sentence("Pages labelled correctly", row, 0.95)
    assert s.startswith("Pages labelled correctly: 25.0% for the base model, 80.0% after")
    assert "+55.0 points" in s and "[+43.0, +66.0]" in s and "excludes 0" in s
    assert "may be noise" in sentence("x", {**row, "low": -0.01}, 0.95)


def _tiny_quickstart(tiny_llama_dir: Path, out: Path) -> Path:
    spec = yaml.safe_load(EMBEDDED.read_text())
    st = {s["name"]: s for s in spec["stages"]}
    st["crawl"]["config"] = {"n_per_label": 12, "seed": 0, "junk": 6, "nav_only": 3}
    st["task"]["config"].update(train_limit=16, heldout_limit=8)
    st["sft"]["config"].update(model=str(tiny_llama_dir), max_steps=2, save_steps=2, batch_size=4)
    for name in ("eval_base", "eval_tuned"):
        st[name]["config"].update(backend="hf", n_bootstrap=50, batch_size=8)
    st["eval_base"]["config"]["model"] = str(tiny_llama_dir)
    st["gain"]["config"]["n_bootstrap"] = 50
    st["ask"]["config"].update(model=str(tiny_llama_dir), max_new_tokens=8)
    st["serve"]["config"].update(concurrency=[1], requests=1, max_tokens=4, demo_max_tokens=4)
    path = out / "quickstart-tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.integration
def test_quickstart_end_to_end_on_a_tiny_config(tiny_llama_dir, tmp_path, isolated_runs):
    pipeline = _tiny_quickstart(tiny_llama_dir, tmp_path)
    out = CliRunner().invoke(
        app, ["quickstart", "--pipeline", str(pipeline), "--max-new-tokens", "4"],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    for line in ("what improved:", "served tuned model", "rag: Why was the Hume", "wall time"):
        assert line in out.output, line
    by_stage = collections.defaultdict(list)
    for d in sorted(isolated_runs.iterdir()):
        m = load_manifest(d)
        by_stage[m["stage"]].append(m)
    assert all(m["status"] == "succeeded" for ms in by_stage.values() for m in ms)

    # The funnel caught every kind of noise the crawl carries, and kept only labelled pages.
    data = by_stage["data"][0]
    crawl = {
        r["id"]: r
        for r in map(
            json.loads, Path(by_stage["crawl"][0]["outputs"][0]["path"]).read_text().splitlines()
        )
    }
    rejected_dir = Path(next(o["path"] for o in data["outputs"] if o["role"] == "rejected"))
    dropped = {
        json.loads(ln)["id"]
        for f in rejected_dir.glob("*.jsonl")
        for ln in f.read_text().splitlines()
    }
    for r in crawl.values():
        if r["noise"] in ("non_english", "nav_only", "junk"):
            assert r["id"] in dropped, r
    steps = data["metrics"]["steps"]
    assert steps["langid"]["dropped"] and steps["c4"]["dropped"]
    assert steps["exact_dedup"]["dropped"].get("exact_duplicate", 0) > 0
    assert steps["pii"]["dropped"].get("redacted_email", 0) > 0

    # Held-out pages are the data stage's val split: none was trained on.
    task = Path(by_stage["label_task"][0]["outputs"][0]["path"]).parent
    train_ids = {json.loads(ln)["id"] for ln in (task / "train.jsonl").read_text().splitlines()}
    held_ids = {json.loads(ln)["id"] for ln in (task / "heldout.jsonl").read_text().splitlines()}
    assert train_ids and held_ids and not train_ids & held_ids

    gain = by_stage["eval-gain"][0]["metrics"]
    assert gain["comparison"][0]["n"] == 8 and gain["sentence"].startswith("Held-out pages")
    ask = by_stage["rag-ask"][0]["metrics"]["answers"][0]
    assert ask["question"] == "Why was the Hume Highway closed?"
    assert ask["grounded"] == bool(ask["sources"])  # a tiny crawl may lack the page: no citation
    demo = by_stage["bench-serve"][0]["metrics"]["demo"]
    assert len(demo) == 2 and all(d["completion_tokens"] >= 1 for d in demo)

    report = Path(by_stage["pipeline"][0]["outputs"][-1]["path"]).read_text()
    assert "What improved:" in report
    assert "<details><summary>langid_language</summary><div class='sample'>" in report
    assert "Why was the Hume Highway closed?" in report and "served model answering" in report
