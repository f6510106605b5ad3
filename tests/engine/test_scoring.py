"""Prompt logprobs and branch scoring against full-sequence forwards (transformers, and the
engine's own prompt logprobs), across block sizes, chunked prefill, prefix caching, preemption."""

from pathlib import Path

import pytest
import torch
from engine_helpers import PROMPTS

from lmforge.engine import LLM, SamplingParams
from lmforge.engine.scoring import plan_item
from lmforge.errors import LMForgeError

SYSTEM = "You are a careful assistant. Answer briefly and cite the module docs. "


def make_llm(path: Path, **kw: object) -> LLM:
    kw.setdefault("kv_cache_gb", 0.01)
    kw.setdefault("threads", 1)
    return LLM(str(path), **kw)


def hf_logprobs(model_dir: Path, ids: list[int]) -> torch.Tensor:
    """Row p = log P(. | ids[: p + 1]) from transformers, one unpadded sequence."""
    from transformers import AutoModelForCausalLM

    model = _HF.get(model_dir) or AutoModelForCausalLM.from_pretrained(model_dir).eval()
    _HF[model_dir] = model
    with torch.inference_mode():
        return model(torch.tensor([ids])).logits[0].float().log_softmax(-1)


_HF: dict[Path, object] = {}


def full_score(model_dir: Path, ctx: list[int], cont: list[int]) -> tuple[float, bool]:
    lp = hf_logprobs(model_dir, ctx + cont)
    rows = lp[len(ctx) - 1 : len(ctx) + len(cont) - 1]
    target = torch.tensor(cont)
    return rows.gather(1, target[:, None]).sum().item(), bool((rows.argmax(-1) == target).all())


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
@pytest.mark.parametrize(
    "kw",
    [
        {"block_size": 4, "max_num_batched_tokens": 16},  # chunked: rows collected across chunks
        {"block_size": 16},
        {"block_size": 4, "kv_cache_gb": 0.00007, "max_num_batched_tokens": 16},  # preemption
    ],
    ids=["bs4-chunked", "bs16", "preempt"],
)
def test_prompt_logprobs_match_transformers(arch, kw, tiny_llama_dir, tiny_qwen2_dir) -> None:
    d = tiny_llama_dir if arch == "llama" else tiny_qwen2_dir
    llm = make_llm(d, **kw)
    eng = llm.engine
    prompts = [SYSTEM + p for p in PROMPTS]
    params = SamplingParams(max_tokens=20, temperature=0, ignore_eos=True, prompt_logprobs=3)
    # twice: the second round's prompts are in the prefix cache, yet every row is exact
    outs = llm.generate(prompts + prompts, params)
    if kw.get("kv_cache_gb"):
        assert eng.stats().num_preemptions > 0
    plain = llm.generate(prompts, SamplingParams(max_tokens=20, temperature=0, ignore_eos=True))
    for out, ref in zip(outs, plain + plain, strict=True):
        ids = out.prompt_token_ids
        assert out.token_ids == ref.token_ids  # asking for prompt logprobs changes nothing else
        assert len(out.prompt_logprobs) == len(ids) and out.prompt_logprobs[0] is None
        lp = hf_logprobs(d, ids)
        for p in range(1, len(ids)):
            row = out.prompt_logprobs[p]
            assert row[ids[p]].logprob == pytest.approx(lp[p - 1, ids[p]].item(), abs=1e-4)
            assert row[ids[p]].rank == int((lp[p - 1] > lp[p - 1, ids[p]]).sum()) + 1
            top = sorted((v for v in row.values() if v.rank <= 3), key=lambda v: v.rank)
            assert [v.rank for v in top] == [1, 2, 3]
            assert top[0].logprob == pytest.approx(lp[p - 1].max().item(), abs=1e-4)
    assert eng.blocks.num_free == eng.runner.num_blocks


def test_score_only_request_and_validation(tiny_llama_engine) -> None:
    with pytest.raises(LMForgeError, match="max_tokens"):
        SamplingParams(max_tokens=0)
    with pytest.raises(LMForgeError, match="prompt_logprobs"):
        SamplingParams(prompt_logprobs=21)
    llm = make_llm(tiny_llama_engine.path)
    out = llm.generate(["Counter"], SamplingParams(max_tokens=0, prompt_logprobs=0))[0]
    assert out.token_ids == [] and out.finish_reason == "length"
    assert all(len(r) == 1 for r in out.prompt_logprobs[1:])  # 0 = only the prompt's token


def items_for(tok) -> list[tuple[list[int], list[list[int]]]]:
    """MMLU-like (one-token choices), GPQA-like (shared first tokens), mixed lengths and a
    choice that is a prefix of another; contexts of every length mod the block size."""
    out = []
    for k, p in enumerate(PROMPTS):
        ctx = tok.encode(SYSTEM + p + " Answer:")[: 20 + 3 * k]
        letters = [tok.encode(f" {c}") for c in "ABCD"]
        out.append((ctx, [x[:1] for x in letters]))
        out.append((ctx, [tok.encode(f" ({c})") for c in "ABCD"]))
        words = [tok.encode(w) for w in (" the json module", " the", " a regular", " path")]
        out.append((ctx, words))
    return out


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
@pytest.mark.parametrize(
    "kw", [{"block_size": 4}, {"block_size": 16, "max_num_batched_tokens": 24}]
)
def test_branch_scoring_equals_full_sequence(arch, kw, tiny_llama_dir, tiny_qwen2_dir) -> None:
    d = tiny_llama_dir if arch == "llama" else tiny_qwen2_dir
    llm = make_llm(d, **kw)
    eng = llm.engine
    items = items_for(eng.tokenizer)
    scores = llm.score(items)
    full = make_llm(d, enable_prefix_caching=False)  # full-sequence scoring, cache off
    for (ctx, conts), got in zip(items, scores, strict=True):
        whole = full.generate(
            [ctx + c for c in conts], SamplingParams(max_tokens=0, prompt_logprobs=0)
        )
        for c, sc, w in zip(conts, got, whole, strict=True):
            ref, greedy = full_score(d, ctx, c)
            assert sc.logprob == pytest.approx(ref, abs=1e-4)
            assert sc.greedy == greedy and len(sc.logprobs) == len(c)
            mine = sum(w.prompt_logprobs[len(ctx) + j][t].logprob for j, t in enumerate(c))
            assert sc.logprob == pytest.approx(mine, abs=1e-4)
    assert eng.blocks.num_free == eng.runner.num_blocks


def test_branches_share_the_context_blocks(tiny_llama_dir) -> None:
    """One item, 4 three-token choices: the context is computed once, each branch recomputes
    at most the context's partial block plus its own tokens."""
    llm = make_llm(tiny_llama_dir, block_size=8)
    eng = llm.engine
    ctx = eng.tokenizer.encode(SYSTEM * 3)[:61]
    conts = [[10 + i, 20 + i, 30] for i in range(4)]
    assert len(plan_item(0, ctx, conts)) == 5
    llm.score([(ctx, conts)])
    computed = eng.stats().prompt_tokens
    assert computed <= len(ctx) + 4 * (61 % 8 + 2), computed  # vs 4 x 63 without sharing
    assert eng.stats().prefix_cache_hits >= 4 * (61 // 8)


def test_one_token_choices_cost_one_sequence(tiny_llama_dir) -> None:
    llm = make_llm(tiny_llama_dir)
    eng = llm.engine
    ctx = eng.tokenizer.encode(SYSTEM)
    assert len(plan_item(0, ctx, [[5], [6], [7], [8]])) == 1
    items = [(ctx[:n], [[5], [6], [7], [8]]) for n in (40, 23, 31)]
    llm.score(items)
    assert eng.stats().prompt_tokens == 40 + 23 + 31  # each context once, nothing else
