"""Closing within budget: JSON requests end as valid JSON instead of being cut at max_tokens."""

import json

import jsonschema
import pytest
import torch
from engine_helpers import PROMPTS

from lmforge.engine import LLMEngine, SamplingParams
from lmforge.errors import LMForgeError

NESTED = {
    "type": "object",
    "properties": {
        "a": {
            "type": "object",
            "properties": {"b": {"type": "array", "items": {"type": "string"}}},
            "required": ["b"],
        },
        "note": {"type": "string"},
    },
    "required": ["a", "note"],
    "additionalProperties": False,
}
FLAT = {"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]}


def run(engine: LLMEngine, jobs: list[tuple[str, SamplingParams]]) -> list:
    ids = [engine.add_request(p, sp) for p, sp in jobs]
    done = {}
    while engine.has_unfinished():
        done.update({o.request_id: o for o in engine.step() if o.finished})
    assert not engine.constraints.matchers and not engine.constraints.reserve
    return [done[i] for i in ids]


def test_closer_tiers_hold_only_closing_tokens(tiny_llama_engine: LLMEngine) -> None:
    compiler = tiny_llama_engine.constraints.compiler
    ll = compiler.ll_tokenizer
    for tier, ok in zip(
        compiler.closers(),
        (
            lambda b: b[:1] == b'"' and set(b[1:]) <= set(b"]}"),
            lambda b: set(b) <= set(b"]}"),
        ),
        strict=True,
    ):
        bits = (tier.view(torch.uint8).unsqueeze(1) >> torch.arange(8, dtype=torch.uint8)) & 1
        ids = bits.view(-1).nonzero().view(-1).tolist()
        assert ids, "the tokenizer has closing tokens"
        assert all(ok(ll.decode_bytes([t])) for t in ids)


@pytest.mark.parametrize(("schema", "budget"), [(FLAT, 24), (NESTED, 60)], ids=["flat", "nested"])
def test_json_closes_within_budget(tiny_qwen2_engine: LLMEngine, schema: dict, budget: int) -> None:
    """Random weights loop inside strings; with a reserve every output still validates."""
    kw = {"max_tokens": budget, "temperature": 0, "json_schema": schema}
    cut = run(tiny_qwen2_engine, [(p, SamplingParams(**kw, json_close=0)) for p in PROMPTS])
    closed = run(tiny_qwen2_engine, [(p, SamplingParams(**kw, json_close=12)) for p in PROMPTS])
    assert all(o.finish_reason == "length" for o in cut), "the case needs looping outputs"
    for o, c in zip(cut, closed, strict=True):
        assert c.finish_reason == "stop" and len(c.token_ids) <= budget, c.text
        jsonschema.validate(json.loads(c.text), schema)
        # closing acts only over the reserve: before it, the output is the free one
        reserve = min(12, budget // 4)
        assert c.token_ids[: budget - reserve - 1] == o.token_ids[: budget - reserve - 1]


def test_sampled_outputs_close_too(tiny_qwen2_engine: LLMEngine) -> None:
    sp = SamplingParams(max_tokens=80, temperature=1.0, seed=5, json_schema=NESTED, json_close=20)
    for o in run(tiny_qwen2_engine, [(p, sp) for p in PROMPTS]):
        assert o.finish_reason == "stop", o.text
        jsonschema.validate(json.loads(o.text), NESTED)


def test_other_constraints_are_not_closed(tiny_llama_engine: LLMEngine) -> None:
    sp = SamplingParams(max_tokens=3, temperature=0, regex="a{50}", json_close=16)
    out = run(tiny_llama_engine, [(PROMPTS[0], sp)])[0]
    assert out.finish_reason == "length" and out.text == "aaa"


def test_json_close_must_not_be_negative() -> None:
    with pytest.raises(LMForgeError, match="json_close"):
        SamplingParams(json_close=-1)
