"""Structured output in the engine: every constrained output is in its language, in every mode."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
import torch
from engine_helpers import PROMPTS, make_engine
from pydantic import BaseModel, Field

from lmforge.engine import LLMEngine, SamplingParams
from lmforge.errors import LMForgeError

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "kind": {"enum": ["cat", "dog"]},
        "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 3},
    },
    "required": ["name", "age", "kind", "tags"],
    "additionalProperties": False,
    "$defs": {"tag": {"type": "string", "pattern": "^[a-z]{1,5}$"}},
}
MODES = {
    "greedy": {"temperature": 0},
    "seeded": {"temperature": 1.0, "seed": 7},
    "top-k-p": {"temperature": 0.9, "top_k": 20, "top_p": 0.9, "seed": 3},
    "penalties": {"temperature": 0.7, "seed": 1, "repetition_penalty": 1.3},
}


def run(engine: LLMEngine, jobs: list[tuple[str, SamplingParams]]) -> list:
    ids = [engine.add_request(p, sp) for p, sp in jobs]
    done = {}
    while engine.has_unfinished():
        done.update({o.request_id: o for o in engine.step() if o.finished})
    assert engine.blocks.num_free == engine.runner.num_blocks
    assert not engine.constraints.matchers  # every matcher is dropped with its request
    return [done[i] for i in ids]


@pytest.mark.parametrize("mode", list(MODES))
def test_json_schema_outputs_validate(tiny_llama_engine: LLMEngine, mode: str) -> None:
    sp = SamplingParams(max_tokens=120, json_schema=SCHEMA, **MODES[mode])
    outs = run(tiny_llama_engine, [(p, sp) for p in PROMPTS])
    done = [o for o in outs if o.finish_reason == "stop"]
    assert len(done) >= len(outs) // 2, [o.text for o in outs]  # random weights: most finish
    for o in done:
        jsonschema.validate(json.loads(o.text), SCHEMA)
    for o in outs:
        if o.finish_reason == "length":
            assert len(o.token_ids) == 120


def test_regex_choice_grammar_and_json_object(tiny_qwen2_engine: LLMEngine) -> None:
    jobs = [
        (PROMPTS[0], SamplingParams(max_tokens=30, temperature=0, regex=r"[0-9]{3}-[a-c]{2}")),
        (PROMPTS[1], SamplingParams(max_tokens=30, temperature=1, seed=2, choice=["yes", "no"])),
        (PROMPTS[2], SamplingParams(max_tokens=30, grammar='start: "f(" NUM ")"\nNUM: /[1-9]/')),
        (PROMPTS[3], SamplingParams(max_tokens=60, temperature=0, json_object=True)),
    ]
    a, b, c, d = run(tiny_qwen2_engine, jobs)
    assert re.fullmatch(r"[0-9]{3}-[a-c]{2}", a.text) and a.finish_reason == "stop"
    assert b.text in ("yes", "no") and b.finish_reason == "stop"
    assert re.fullmatch(r"f\([1-9]\)", c.text) and c.finish_reason == "stop"
    if d.finish_reason == "stop":
        assert isinstance(json.loads(d.text), dict)
    else:
        assert d.text.startswith("{") and d.finish_reason == "length"


def test_pydantic_model_class(tiny_llama_engine: LLMEngine) -> None:
    class Pet(BaseModel):
        kind: bool
        legs: int = Field(ge=0, le=8)

    sp = SamplingParams(max_tokens=40, temperature=0, json_schema=Pet)
    assert sp.json_schema == Pet.model_json_schema()
    out = run(tiny_llama_engine, [(PROMPTS[0], sp)])[0]
    assert out.finish_reason == "stop"
    Pet.model_validate_json(out.text)


def test_cannot_finish_within_max_tokens_is_length(tiny_llama_engine: LLMEngine) -> None:
    sp = SamplingParams(max_tokens=3, temperature=0, regex="a{50}")
    out = run(tiny_llama_engine, [(PROMPTS[0], sp)])[0]
    assert out.finish_reason == "length" and len(out.token_ids) == 3
    assert set(out.text) == {"a"}


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"json_schema": {"type": "array", "uniqueItems": True}}, "uniqueItems"),
        ({"json_schema": {"not": {"type": "string"}}}, "not"),
        ({"json_schema": {"type": "string", "format": "bogus"}}, "bogus"),
        ({"json_schema": {"type": "strange"}}, "strange"),
        ({"regex": "(unclosed"}, "regex"),
        ({"grammar": "start: undefined_rule"}, "grammar"),
    ],
)
def test_unsupported_constraint_names_the_problem(
    tiny_llama_engine: LLMEngine, kw: dict, needle: str
) -> None:
    with pytest.raises(LMForgeError, match=needle):
        tiny_llama_engine.add_request("x", SamplingParams(**kw))
    assert not tiny_llama_engine.has_unfinished()


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"regex": "a", "choice": ["a"]}, "at most one"),
        ({"choice": []}, "choice"),
        ({"choice": ["a", ""]}, "choice"),
        ({"json_schema": "not a dict"}, "json_schema"),
        ({"grammar": "  "}, "grammar"),
    ],
)
def test_bad_constraint_params(kw: dict, field: str) -> None:
    with pytest.raises(LMForgeError, match=field):
        SamplingParams(**kw)


def test_free_rows_unchanged_by_constrained_neighbours(tiny_llama_engine: LLMEngine) -> None:
    free = SamplingParams(max_tokens=20, temperature=0, ignore_eos=True)
    alone = run(tiny_llama_engine, [(p, free) for p in PROMPTS[:3]])
    cons = SamplingParams(max_tokens=40, temperature=0, json_schema=SCHEMA)
    mixed = run(tiny_llama_engine, [x for p in PROMPTS[:3] for x in ((p, free), (p, cons))])
    assert [o.token_ids for o in mixed[::2]] == [o.token_ids for o in alone]


@pytest.mark.parametrize(
    "kw",
    [
        {"block_size": 4, "kv_cache_gb": 0.00012},  # forced preemption
        {"block_size": 8, "max_num_batched_tokens": 16},  # chunked prefill + prefix cache hits
    ],
    ids=["preempt", "chunked-cached"],
)
def test_invariant_to_preemption_and_caching(tiny_llama_dir: Path, kw: dict) -> None:
    prefix = "You are a careful assistant. Answer briefly in JSON. " * 2
    jobs = [
        (prefix + p, SamplingParams(max_tokens=40, json_schema=SCHEMA, **MODES[m]))
        for p, m in zip(PROMPTS, ["greedy", "seeded", "top-k-p"] * 2, strict=True)
    ]
    ref_engine = make_engine(tiny_llama_dir, enable_prefix_caching=False, max_num_seqs=1)
    ref = [o.token_ids for o in run(ref_engine, jobs)]
    eng = make_engine(tiny_llama_dir, **kw)
    assert [o.token_ids for o in run(eng, jobs)] == ref
    s = eng.stats()
    assert s.num_preemptions > 0 if "kv_cache_gb" in kw else s.prefix_cache_hits > 0


def test_stop_strings_and_logprobs(tiny_llama_engine: LLMEngine) -> None:
    sp = SamplingParams(max_tokens=30, temperature=0, regex="[ab]{5}c[ab]{5}", logprobs=2)
    full = run(tiny_llama_engine, [(PROMPTS[0], sp)])[0]
    assert re.fullmatch("[ab]{5}c[ab]{5}", full.text)
    assert len(full.logprobs) == len(full.token_ids)
    assert all(lp <= 0 for lp in full.logprobs)
    stop = SamplingParams(max_tokens=30, temperature=0, regex="[ab]{5}c[ab]{5}", stop=["c"])
    cut = run(tiny_llama_engine, [(PROMPTS[0], stop)])[0]
    assert cut.finish_reason == "stop" and cut.stop_reason == "c"
    assert cut.text == full.text.split("c")[0]


def test_compile_cache_gives_independent_matchers(tiny_llama_engine: LLMEngine) -> None:
    sp = SamplingParams(max_tokens=40, temperature=1, seed=5, json_schema=SCHEMA)
    outs = run(tiny_llama_engine, [(PROMPTS[0], sp), (PROMPTS[0], sp)])
    assert outs[0].token_ids == outs[1].token_ids  # same seed, same matcher start state


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_apply_masks_exactly_the_disallowed_tokens(tiny_llama_engine: LLMEngine, dtype) -> None:
    """The byte-table unpacking bans exactly what llguidance's mask bans, on the right rows,
    whatever the row order, for rows mixed with free ones and after the buffers grow."""
    from llguidance.torch import allocate_token_bitmask, fill_next_token_bitmask

    cons = tiny_llama_engine.constraints
    vocab = tiny_llama_engine.model.spec.vocab_size
    specs = {"a": {"regex": r"[0-9]+"}, "b": {"choice": ["yes", "no"]}, "c": {"json_object": True}}
    for rid, kw in specs.items():
        cons.add(rid, SamplingParams(**kw))
    try:
        for order in (["a"], ["free", "c", "a", "b"], ["b", "a", "c"]):  # grows 1 -> 3 rows
            cons.start([(r, 100) for r in order])
            logits = torch.randn(len(order), vocab).to(dtype)
            want = logits.clone()
            cons.apply(logits, order)
            for i, rid in enumerate(order):
                if rid == "free":
                    assert torch.equal(logits[i], want[i])
                    continue
                bm = allocate_token_bitmask(1, cons.compiler.ll_tokenizer.vocab_size)
                fill_next_token_bitmask(cons.matchers[rid], bm, 0)
                bits = (bm[0].unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
                allowed = bits.bool().flatten()[:vocab]
                assert 0 < int(allowed.sum()) < vocab
                assert torch.equal(logits[i][allowed], want[i][allowed])
                assert bool((logits[i][~allowed] == float("-inf")).all())
    finally:
        for rid in specs:
            cons.drop(rid)
