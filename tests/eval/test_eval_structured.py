"""json_schema task kind and the constrained judge, on the engine and hf backends (tiny model)."""

import json
from pathlib import Path

import pytest

from lmforge.eval.backends.engine import EngineBackend
from lmforge.eval.data import load_items
from lmforge.eval.judge import Judge
from lmforge.eval.kinds import json_scores, leaves, run_json_schema
from lmforge.eval.prompts import PromptBuilder
from lmforge.eval.taskspec import DataSpec, TaskSpec, load_task

SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer", "minimum": 0, "maximum": 9}},
    "required": ["ok", "n"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def engine_backend(tiny_llama_dir: Path) -> EngineBackend:
    return EngineBackend(str(tiny_llama_dir), kv_cache_gb=0.02)


def test_json_scores_validity_and_field_accuracy() -> None:
    gold = {"ok": True, "n": 3}
    assert json_scores('{"ok": true, "n": 3}', SCHEMA, gold) == {
        "parsed": 1.0,
        "valid": 1.0,
        "field_acc": 1.0,
        "error": None,
    }
    half = json_scores('{"ok": true, "n": 12}', SCHEMA, gold)
    assert half["valid"] == 0.0 and half["field_acc"] == 0.5 and "12" in half["error"]
    assert json_scores("nope", SCHEMA, gold)["parsed"] == 0.0
    assert leaves({"a": [1, {"b": 2}], "c": {}}) == {".a[0]": 1, ".a[1].b": 2, ".c": {}}


@pytest.mark.parametrize("which", ["engine_backend", "hf_backend"])
def test_json_schema_kind_constrained_is_always_valid(
    tmp_path: Path, which: str, request: pytest.FixtureRequest
) -> None:
    backend = request.getfixturevalue(which)
    rows = [
        f'{{"id": "q{i}", "question": "Item {i}?", "answer": {{"ok": true, "n": {i}}}}}'
        for i in range(6)
    ]
    (tmp_path / "d.jsonl").write_text("\n".join(rows))
    free = TaskSpec(
        name="t",
        kind="json_schema",
        data=DataSpec(path=str(tmp_path / "d.jsonl")),
        max_new_tokens=40,
        constrained=False,
        schema_field="schema",
    )
    items = load_items(free.data)
    for it in items:
        it["schema"] = SCHEMA
    constrained = free.model_copy(update={"constrained": True})
    recs, agg = run_json_schema(constrained, items, backend, PromptBuilder(constrained, items))
    assert agg == {"parsed": "mean", "valid": "mean", "field_acc": "mean"}
    assert all(r["constrained"] and r["scores"]["valid"] == 1.0 for r in recs), recs
    loose, _ = run_json_schema(free, items, backend, PromptBuilder(free, items))
    assert not any(r["constrained"] for r in loose)
    assert sum(r["scores"]["valid"] for r in loose) < len(loose)  # random weights: free text


def test_shipped_json_extract_task_loads() -> None:
    spec = load_task("json_extract")
    items = load_items(spec.data)
    assert spec.kind == "json_schema" and len(items) >= 100
    for it in items:  # every gold answer is valid under its own schema
        assert json_scores(json.dumps(it["answer"]), it["schema"], it["answer"])["valid"] == 1.0


def test_constrained_judge_never_unparseable(engine_backend) -> None:
    judge = Judge(engine_backend, retries=0, max_new_tokens=60)
    assert judge.structured
    verdicts = judge.grade(["What is 2+2?"] * 3, ["4", "5", "four"])
    assert all(v.status == "ok" and 1 <= v.value <= 10 for v in verdicts), verdicts
    pairs = judge.pairwise(["Capital of France?"] * 2, ["Paris", "Lyon"], ["Lyon", "Paris"])
    assert all(p["winner"] in ("first", "second", "tie") for p in pairs), pairs


def test_hf_backend_samples_under_schema_with_n(hf_backend) -> None:
    """Sampled, several returns per prompt, constrained and free rows in one generate() batch."""
    from lmforge.eval.backends.base import GenRequest

    reqs = [
        GenRequest("Say it.", max_new_tokens=40, temperature=1.0, n=3, seed=5, json_schema=SCHEMA),
        GenRequest("Free.", max_new_tokens=40, temperature=1.0, n=3, seed=5),
    ]
    cons, _free = hf_backend.generate(reqs)
    assert len(cons) == 3
    for text in cons:
        value = json.loads(text)
        assert set(value) == {"ok", "n"} and 0 <= value["n"] <= 9
