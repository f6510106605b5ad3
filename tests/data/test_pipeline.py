import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmforge.data.config import DataConfig
from lmforge.data.executors import run_pipeline
from lmforge.errors import LMForgeError
from lmforge.runs import list_runs


def _ids(out: Path, sub: str = "data") -> list[str]:
    return sorted(
        json.loads(line)["id"] for p in sorted((out / sub).glob("*.jsonl")) for line in p.open()
    )


def _rejected(out: Path) -> dict[str, tuple[str, str]]:
    rows = [json.loads(ln) for p in (out / "rejected").glob("*.jsonl") for ln in p.open()]
    return {r["id"]: (r["step"], r["reason"]) for r in rows}


def test_dedup_across_shards_is_sharding_invariant(tmp_path: Path, corpus_records, h) -> None:
    outs = []
    for n in (1, 3):
        inputs = h.write_shards(tmp_path / f"in{n}", corpus_records, n)
        cfg = DataConfig.model_validate(h.pipeline_cfg(inputs, tmp_path / f"out{n}"))
        _, stats = run_pipeline(cfg, show_progress=False)
        outs.append(tmp_path / f"out{n}")
        rej = _rejected(tmp_path / f"out{n}")
        assert rej["exact"] == ("exact_dedup", "exact_duplicate")
        assert rej["near"] == ("near_dedup", "near_duplicate")
        assert stats["exact_dedup"]["dropped"] == {"exact_duplicate": 1}
        assert stats["near_dedup"]["dropped"] == {"near_duplicate": 1}
        assert stats["pii"]["dropped"] == {"redacted_email": 1}
    assert _ids(outs[0]) == _ids(outs[1])
    assert len(_ids(outs[0])) == 41
    pii = [json.loads(ln) for p in (outs[1] / "data").glob("*.jsonl") for ln in p.open()]
    assert any("[email]" in r["text"] for r in pii if r["id"] == "pii")


def test_resume_skips_finished_shards(tmp_path: Path, corpus_records, h) -> None:
    inputs = h.write_shards(tmp_path / "in", corpus_records, 3)
    cfg = DataConfig.model_validate(h.pipeline_cfg(inputs, tmp_path / "out"))
    run_pipeline(cfg, show_progress=False)
    done = sorted((tmp_path / "out" / "_work").rglob("*.done.json"))
    mtimes = {p: p.stat().st_mtime_ns for p in done}
    # Simulate a kill after shard 0 of the last stage: its marker and output are gone.
    done[-1].unlink()
    (tmp_path / "out" / "data" / "part-00002.jsonl").unlink()
    run_pipeline(cfg, show_progress=False)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items() if p != done[-1])
    assert len(_ids(tmp_path / "out")) == 41
    changed = DataConfig.model_validate({**h.pipeline_cfg(inputs, tmp_path / "out"), "steps": []})
    with pytest.raises(LMForgeError, match="different config"):
        run_pipeline(changed, show_progress=False)


def test_split_keeps_near_duplicates_together(tmp_path: Path, corpus_records, h) -> None:
    inputs = h.write_shards(tmp_path / "in", corpus_records, 2)
    raw = h.pipeline_cfg(inputs, tmp_path / "out", split={"val_fraction": 0.3, "seed": 1})
    # Threshold 1: only identical signatures (the case-changed copy) are dropped; the near
    # duplicate stays, in the same LSH component as its original.
    raw["steps"] = [{"type": "near_dedup", "threshold": 1.0}]
    run_pipeline(DataConfig.model_validate(raw), show_progress=False)
    train, val = _ids(tmp_path / "out", "train"), _ids(tmp_path / "out", "val")
    assert len(train) + len(val) == 42 and val and "exact" not in train + val
    assert "near" in train + val
    assert ("near" in val) == ("lee-7" in val)  # the pair lands on one side


def test_bad_record_fail_mode(tmp_path: Path) -> None:
    p = tmp_path / "in.jsonl"
    p.write_text('{"text": "ok"}\n{oops\n')
    raw = {
        "input": {"paths": [str(p)], "on_bad_record": "fail"},
        "output": {"dir": str(tmp_path / "o")},
    }
    with pytest.raises(LMForgeError, match=r"in\.jsonl:2: bad record \(invalid_json\)"):
        run_pipeline(DataConfig.model_validate(raw), show_progress=False)


def test_cli_run_records_manifest(tmp_path: Path, corpus_records, h) -> None:
    import yaml

    from lmforge.cli import app

    inputs = h.write_shards(tmp_path / "in", corpus_records, 2)
    raw = h.pipeline_cfg(inputs, tmp_path / "out")
    raw["executor"] = {"workers": 2}  # exercises the process pool
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw))
    res = CliRunner().invoke(
        app, ["data", "run", str(tmp_path / "p.yaml"), "--output-dir", str(tmp_path / "cli")]
    )
    assert res.exit_code == 0, res.output
    assert "exact_duplicate=1" in res.output and "near_dedup" in res.output
    (run,) = list_runs()
    assert run["status"] == "succeeded" and run["stage"] == "data"
    assert run["metrics"]["documents_out"] == 41
    assert run["metrics"]["steps"]["read"]["in"] == 43
    assert {o["role"] for o in run["outputs"]} == {"data", "rejected"}


def test_example_config_validates() -> None:
    from lmforge.config import load_config

    cfg = load_config(DataConfig, Path(__file__).parents[2] / "examples/data/pipeline.yaml")
    assert [s.type for s in cfg.steps][-2:] == ["exact_dedup", "near_dedup"]
