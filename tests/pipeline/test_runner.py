"""The pipeline runner with small real stage kinds registered by the test."""

import json
from pathlib import Path

import pytest

from lmforge.config import StageConfig
from lmforge.errors import ConfigError, LMForgeError
from lmforge.pipeline.kinds import StageKind
from lmforge.pipeline.registry import register
from lmforge.pipeline.runner import run_pipeline
from lmforge.runs import load_manifest

CALLS: list[str] = []


class UpperConfig(StageConfig):
    suffix: str = "!"


def upper(cfg: UpperConfig, inputs: dict[str, Path], run) -> dict[str, Path]:
    """Upper-case a text file and append a suffix: a stage with one input and one output."""
    CALLS.append("upper")
    out = run.dir / "upper.txt"
    out.write_text(inputs["text"].read_text().upper() + cfg.suffix)
    run.log_metrics(chars=len(out.read_text()))
    return {"text": out}


class CountConfig(StageConfig):
    fail: bool = False


def count(cfg: CountConfig, inputs: dict[str, Path], run) -> dict[str, Path]:
    CALLS.append("count")
    if cfg.fail:
        raise LMForgeError("count was told to fail")
    out = run.dir / "count.json"
    out.write_text(json.dumps({"n": len(inputs["text"].read_text())}))
    return {"report": out}


register(StageKind("test.upper", UpperConfig, upper, required_inputs=("text",)))
register(StageKind("test.count", CountConfig, count, required_inputs=("text",)))


@pytest.fixture
def pipeline(tmp_path):
    CALLS.clear()
    (tmp_path / "in.txt").write_text("hello")
    p = tmp_path / "pipe.yaml"
    p.write_text(
        "name: demo\n"
        "stages:\n"
        "  - {name: up, uses: test.upper, inputs: {text: in.txt}, config: {suffix: '?'}}\n"
        "  - {name: cnt, uses: test.count, inputs: {text: up.text}}\n"
    )
    return p


def test_runs_stages_in_order_with_lineage(pipeline, isolated_runs):
    prun, results = run_pipeline(pipeline)
    assert CALLS == ["upper", "count"]
    assert [r.status for r in results] == ["ran", "ran"]
    assert results[0].outputs["text"].read_text() == "HELLO?"
    assert json.loads(results[1].outputs["report"].read_text()) == {"n": 6}
    cnt = load_manifest(isolated_runs / results[1].run_id)
    assert cnt["inputs"][0]["produced_by"] == results[0].run_id  # lineage through hashes
    assert cnt["pipeline"] == {"run": prun.id, "stage": "cnt"}
    assert load_manifest(prun.dir)["status"] == "succeeded"


def test_unchanged_stages_are_reused(pipeline):
    _, first = run_pipeline(pipeline)
    CALLS.clear()
    _, second = run_pipeline(pipeline)
    assert CALLS == []
    assert [r.status for r in second] == ["reused", "reused"]
    assert [r.run_id for r in second] == [r.run_id for r in first]


def test_changed_input_reruns_downstream(pipeline, tmp_path):
    run_pipeline(pipeline)
    CALLS.clear()
    (tmp_path / "in.txt").write_text("other")
    _, res = run_pipeline(pipeline)
    assert CALLS == ["upper", "count"] and res[1].outputs["report"].read_text() == '{"n": 6}'


def test_equivalent_config_is_reused(pipeline):
    """Spelling out a default leaves the resolved config, and so the fingerprint, unchanged."""
    run_pipeline(pipeline)
    CALLS.clear()
    old = "name: cnt, uses: test.count,"
    pipeline.write_text(pipeline.read_text().replace(old, old + " config: {fail: false},"))
    _, res = run_pipeline(pipeline)
    assert [r.status for r in res] == ["reused", "reused"]


def test_changed_config_reruns_that_stage_and_later(pipeline):
    run_pipeline(pipeline)
    CALLS.clear()
    pipeline.write_text(pipeline.read_text().replace("suffix: '?'", "suffix: '.'"))
    _, res = run_pipeline(pipeline)
    assert CALLS == ["upper", "count"] and res[0].outputs["text"].read_text() == "HELLO."


def test_from_stage_forces_rerun(pipeline):
    run_pipeline(pipeline)
    CALLS.clear()
    _, res = run_pipeline(pipeline, from_stage="cnt")
    assert CALLS == ["count"] and [r.status for r in res] == ["reused", "ran"]


def test_deleted_output_is_not_reused(pipeline):
    _, first = run_pipeline(pipeline)
    first[1].outputs["report"].unlink()
    CALLS.clear()
    run_pipeline(pipeline)
    assert CALLS == ["count"]


def test_failed_stage_stops_pipeline_and_keeps_earlier(pipeline, isolated_runs):
    old = "inputs: {text: up.text}"
    pipeline.write_text(pipeline.read_text().replace(old, old + ", config: {fail: true}"))
    with pytest.raises(LMForgeError, match=r"stage 'cnt' \(test.count\) failed: count was told"):
        run_pipeline(pipeline)
    manifests = [load_manifest(d) for d in sorted(isolated_runs.iterdir())]
    by_stage = {m["stage"]: m for m in manifests}
    assert by_stage["test-upper"]["status"] == "succeeded"
    assert Path(by_stage["test-upper"]["outputs"][0]["path"]).read_text() == "HELLO?"
    assert by_stage["test-count"]["status"] == "failed"
    assert by_stage["pipeline"]["status"] == "failed"


@pytest.mark.parametrize(
    ("stages", "error"),
    [
        ("  - {name: a, uses: nope}\n", "unknown stage kind 'nope'"),
        (
            "  - {name: a, uses: test.count, inputs: {text: b.text}}\n"
            "  - {name: b, uses: test.upper}\n",
            "refers to 'b', which does not run before it",
        ),
        (
            "  - {name: a, uses: test.upper, inputs: {text: missing.txt}}\n",
            "missing.txt does not exist",
        ),
        ("  - {name: a, uses: test.upper}\n", "needs inputs: text"),
        (
            "  - {name: a, uses: test.upper, config: {sufix: x}, inputs: {text: in.txt}}\n",
            "unknown key 'sufix'",
        ),
    ],
)
def test_bad_pipelines(tmp_path, stages, error):
    (tmp_path / "in.txt").write_text("x")
    p = tmp_path / "bad.yaml"
    p.write_text("stages:\n" + stages)
    with pytest.raises(ConfigError, match=error):
        run_pipeline(p)


def test_from_unknown_stage(pipeline):
    with pytest.raises(ConfigError, match="no such stage"):
        run_pipeline(pipeline, from_stage="zzz")
