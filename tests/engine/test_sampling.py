"""Sampling parameters, stops, logprobs and incremental detokenisation."""

import math

import pytest
import torch
from engine_helpers import PROMPTS

from lmforge.engine import LLMEngine, SamplingParams
from lmforge.engine.detokenizer import Detokenizer
from lmforge.errors import LMForgeError


def gen(engine: LLMEngine, prompts: list[str], params: SamplingParams) -> list:
    ids = [engine.add_request(p, params) for p in prompts]
    done = {}
    while engine.has_unfinished():
        done.update({o.request_id: o for o in engine.step() if o.finished})
    return [done[i] for i in ids]


def test_same_seed_same_output_whatever_the_batch(tiny_llama_engine: LLMEngine) -> None:
    p = SamplingParams(max_tokens=16, temperature=1.0, top_p=0.9, top_k=50, seed=7, ignore_eos=True)
    alone = gen(tiny_llama_engine, [PROMPTS[0]], p)[0].token_ids
    batch = gen(tiny_llama_engine, PROMPTS, p)[0].token_ids
    other = gen(tiny_llama_engine, [PROMPTS[0]], SamplingParams(**{**_kw(p), "seed": 8}))[0]
    assert alone == batch
    assert other.token_ids != alone


def _kw(p: SamplingParams) -> dict:
    return {f: getattr(p, f) for f in p.__slots__}


def test_top_k_1_and_tiny_top_p_are_greedy(tiny_llama_engine: LLMEngine) -> None:
    greedy = gen(tiny_llama_engine, PROMPTS[:2], SamplingParams(max_tokens=10, temperature=0))
    for kw in ({"top_k": 1}, {"top_p": 1e-6}, {"min_p": 1.0}):
        p = SamplingParams(max_tokens=10, temperature=1.5, seed=3, **kw)
        got = gen(tiny_llama_engine, PROMPTS[:2], p)
        assert [o.token_ids for o in got] == [o.token_ids for o in greedy], kw


def test_penalties_change_greedy_output(tiny_llama_engine: LLMEngine) -> None:
    base = gen(tiny_llama_engine, [PROMPTS[4]], SamplingParams(max_tokens=30, temperature=0))[0]
    rep = SamplingParams(
        max_tokens=30, temperature=0, repetition_penalty=5.0, frequency_penalty=2.0
    )
    pen = gen(tiny_llama_engine, [PROMPTS[4]], rep)[0]
    assert len(set(pen.token_ids)) >= len(set(base.token_ids))
    assert pen.token_ids != base.token_ids


def test_stop_token_ids_and_max_tokens(tiny_llama_engine: LLMEngine) -> None:
    free = gen(tiny_llama_engine, [PROMPTS[1]], SamplingParams(max_tokens=12, temperature=0))[0]
    stop_id = free.token_ids[5]
    first = free.token_ids.index(stop_id)
    out = gen(
        tiny_llama_engine,
        [PROMPTS[1]],
        SamplingParams(max_tokens=12, temperature=0, stop_token_ids=[stop_id]),
    )[0]
    assert out.finish_reason == "stop" and out.stop_reason == stop_id
    assert out.token_ids == free.token_ids[: first + 1]
    assert free.finish_reason == "length" and len(free.token_ids) == 12


def test_stop_string_truncates_text_and_stream(tiny_llama_engine: LLMEngine) -> None:
    free = gen(
        tiny_llama_engine,
        [PROMPTS[2]],
        SamplingParams(max_tokens=24, temperature=0, ignore_eos=True),
    )[0]
    stop = free.text[8:11]
    assert stop.strip(), free.text
    p = SamplingParams(max_tokens=24, temperature=0, ignore_eos=True, stop=[stop])
    rid = tiny_llama_engine.add_request(PROMPTS[2], p)
    streamed, last = "", None
    while tiny_llama_engine.has_unfinished():
        for o in tiny_llama_engine.step():
            streamed += o.delta_text
            last = o
    assert last is not None and last.request_id == rid and last.finish_reason == "stop"
    assert last.text == free.text[: free.text.find(stop)] == streamed
    assert last.stop_reason == stop


def test_logprobs_are_the_models(tiny_llama_engine: LLMEngine) -> None:
    from transformers import AutoModelForCausalLM

    out = gen(
        tiny_llama_engine, [PROMPTS[3]], SamplingParams(max_tokens=4, temperature=0, logprobs=3)
    )[0]
    hf = AutoModelForCausalLM.from_pretrained(tiny_llama_engine.path, dtype=torch.float32)
    ids = tiny_llama_engine.tokenizer.encode(PROMPTS[3]) + out.token_ids
    lp = hf(torch.tensor([ids])).logits[0].log_softmax(-1)
    start = len(ids) - len(out.token_ids) - 1
    for k, tok in enumerate(out.token_ids):
        assert math.isclose(out.logprobs[k], lp[start + k, tok].item(), abs_tol=1e-4)
        top = out.top_logprobs[k]
        assert len(top) == 3 and top[0][0] == tok  # greedy: chosen is the top-1
        assert top[0][1] >= top[1][1] >= top[2][1]


def test_invalid_params_name_the_field() -> None:
    with pytest.raises(LMForgeError, match=r"SamplingParams.top_p=1.5 .* in \(0, 1\]"):
        SamplingParams(top_p=1.5)
    with pytest.raises(LMForgeError, match="max_tokens"):
        SamplingParams(max_tokens=0)


def test_detokenizer_never_emits_broken_utf8(tiny_tokenizer) -> None:
    text = "naïve café — 日本語 🤖🚀 done"
    ids = tiny_tokenizer.encode(text)
    d = Detokenizer(tiny_tokenizer, [])
    pieces = []
    for t in ids:
        d.add(t)
        pieces.append(d.delta(final=False))
    pieces.append(d.delta(final=True))
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == tiny_tokenizer.decode(ids) == text
