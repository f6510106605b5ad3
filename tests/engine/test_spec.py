"""Speculative decoding: identical greedy output, and the target's distribution under sampling."""

from pathlib import Path

import pytest
import torch
from engine_helpers import PROMPTS, make_engine
from scipy.stats import chisquare

from lmforge.engine import SamplingParams
from lmforge.engine.sequence import Sequence
from lmforge.engine.spec import ngram_draft, verify


def run(engine, prompts, params):
    ids = [engine.add_request(p, params) for p in prompts]
    done = {}
    while engine.has_unfinished():
        for out in engine.step():
            if out.finished:
                done[out.request_id] = out
    engine.blocks.check([])  # every block (drafted ones too) is back in the pool
    return [done[i].token_ids for i in ids]


@pytest.fixture(scope="module")
def draft_dir(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny target with noise on its weights: a draft that agrees often, not always."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(5)
    m = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3 * p.std())
    out = tmp_path_factory.mktemp("draft")
    m.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_llama_dir).save_pretrained(out)
    return out


def test_ngram_draft() -> None:
    assert ngram_draft([1, 2, 3, 9, 1, 2, 3], 2) == [9, 1]
    assert ngram_draft([5, 1, 2, 7, 7, 1, 2], 3) == [7, 7, 1]
    assert ngram_draft([1, 2, 3, 4], 3) == []


@pytest.mark.parametrize("method", ["ngram", "draft"])
def test_greedy_output_is_identical(tiny_llama_dir: Path, draft_dir: Path, method) -> None:
    extra = {"spec_draft_model": str(draft_dir)} if method == "draft" else {}
    spec = make_engine(tiny_llama_dir, speculative=method, spec_max_batch=8, **extra)
    plain = make_engine(tiny_llama_dir)
    prompts = [p + " " + p for p in PROMPTS]  # something to look up
    params = SamplingParams(max_tokens=24, temperature=0, ignore_eos=True)
    assert run(spec, prompts, params) == run(plain, prompts, params)
    assert spec.spec.proposed > 0 and spec.spec.accepted > 0
    # per request off wins over the policy
    off = SamplingParams(max_tokens=8, temperature=0, ignore_eos=True, speculative=False)
    before = spec.spec.proposed
    run(spec, prompts[:1], off)
    assert spec.spec.proposed == before


def test_off_above_batch_limit(tiny_llama_dir: Path) -> None:
    eng = make_engine(tiny_llama_dir, speculative="ngram", spec_max_batch=2)
    run(eng, [p * 2 for p in PROMPTS], SamplingParams(max_tokens=6, temperature=0))
    assert eng.spec.proposed == 0


def _seq(**kw) -> Sequence:
    return Sequence("r", [1], SamplingParams(**kw), 0.0)


@pytest.mark.parametrize("with_q", [False, True])
def test_rejection_sampling_keeps_the_target_distribution(with_q: bool) -> None:
    """First kept token over many verifications ~ p (chi-square), whatever q proposes."""
    g = torch.Generator().manual_seed(0)
    vocab, k, n = 6, 3, 6000
    logits = torch.randn(k + 1, vocab, generator=g)
    p0 = logits[0].softmax(-1)
    q = torch.randn(k, vocab, generator=g).mul(2).softmax(-1)
    seq = _seq(temperature=1.0)
    counts = torch.zeros(vocab)
    for _ in range(n):
        if with_q:
            drafts = [int(torch.multinomial(q[i], 1, generator=g)) for i in range(k)]
        else:
            drafts = [2, 0, 5]  # prompt lookup: a fixed guess
        counts[verify(logits, drafts, q if with_q else None, seq, g)[0]] += 1
    assert chisquare(counts.numpy(), (p0 * n).numpy()).pvalue > 1e-3


def test_sampling_distribution_through_the_engine(tiny_llama_dir: Path, draft_dir: Path) -> None:
    """Joint of the first two tokens (top_k=3: 9 cells) under draft-model speculation equals
    the target's exact probabilities (chi-square, seeded requests)."""
    from transformers import AutoModelForCausalLM

    eng = make_engine(
        tiny_llama_dir,
        speculative="draft",
        spec_draft_model=str(draft_dir),
        spec_max_batch=64,
        spec_min_acceptance=0.0,
    )
    prompt = eng.tokenizer.encode(PROMPTS[0], add_special_tokens=False)
    hf = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32)

    def top3(ids: list[int]) -> tuple[list[int], torch.Tensor]:
        with torch.no_grad():
            row = hf(torch.tensor([ids])).logits[0, -1]
        v, i = row.topk(3)
        return i.tolist(), v.softmax(-1)

    exact = {}
    first, p1 = top3(prompt)
    for t1, a in zip(first, p1.tolist(), strict=True):
        second, p2 = top3([*prompt, t1])
        for t2, b in zip(second, p2.tolist(), strict=True):
            exact[(t1, t2)] = a * b
    n, counts = 1800, dict.fromkeys(exact, 0)
    for start in range(0, n, 64):
        params = [
            SamplingParams(max_tokens=3, top_k=3, seed=s, ignore_eos=True)
            for s in range(start, min(n, start + 64))
        ]
        ids = [eng.add_request(prompt, p) for p in params]
        done = {}
        while eng.has_unfinished():
            done.update({o.request_id: o for o in eng.step() if o.finished})
        for i in ids:
            counts[tuple(done[i].token_ids[:2])] += 1
    assert eng.spec.accepted > 0 and eng.spec.proposed > eng.spec.accepted  # both branches
    keys = list(exact)
    obs = [counts[c] for c in keys]
    want = [exact[c] * n for c in keys]
    assert sum(obs) == n
    assert chisquare(obs, [w * n / sum(want) for w in want]).pvalue > 1e-3
