"""Multiple-choice scoring: the hf backend's shared context pass and the engine backend's branch
scoring both equal one full forward per choice, on the tiny Llama and Qwen2 and the default
model; the engine backend needs no transformers model."""

from pathlib import Path

import numpy as np
import pytest
import torch

from lmforge.eval.backends.engine import EngineBackend
from lmforge.eval.backends.hf import HFBackend

CONTEXT = "Question: which module parses JSON?\nA. json\nB. re\nC. pathlib\nD. inspect\nAnswer:"
ITEMS = [
    (CONTEXT, [" A", " B", " C", " D"]),  # one-token choices
    (CONTEXT, [" (A)", " (B)", " (C)", " (D)"]),  # shared first token, distinct rest
    ("The json module", [" parses JSON text", " parses", " is a regular expression", " x"]),
    ("", ["Hello world", "Goodbye"]),  # empty context: EOS prefix
    ("Answer: ", ["4", "5"]),  # trailing space moves onto the continuation
]


def flat(items: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    return [(c, x) for c, xs in items for x in xs]


def full_forward(hf: HFBackend, context: str, continuation: str) -> tuple[float, bool]:
    """One unpadded forward of context + continuation (what the old per-choice path did)."""
    ctx, cont = hf._encode_pair(context, continuation)
    with torch.inference_mode():
        logp = hf.model(input_ids=torch.tensor([ctx + cont])).logits[0].float().log_softmax(-1)
    rows, target = logp[len(ctx) - 1 : -1], torch.tensor(cont)
    return rows.gather(1, target[:, None]).sum().item(), bool((rows.argmax(-1) == target).all())


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def pair(request, tiny_llama_dir: Path, tiny_qwen2_dir: Path) -> tuple[HFBackend, EngineBackend]:
    d = str(tiny_llama_dir if request.param == "llama" else tiny_qwen2_dir)
    return HFBackend(d, batch_size=4), EngineBackend(d, kv_cache_tokens=2048)


def test_shared_pass_and_branches_equal_full_forwards(pair) -> None:
    hf, engine = pair
    reqs = flat(ITEMS)
    ours, theirs = hf.loglikelihood(reqs), engine.loglikelihood(reqs)
    for (c, x), a, b in zip(reqs, ours, theirs, strict=True):
        ref, greedy = full_forward(hf, c, x)
        assert a.logprob == pytest.approx(ref, abs=1e-4) and a.is_greedy == greedy
        assert b.logprob == pytest.approx(ref, abs=1e-4) and b.is_greedy == greedy
        assert a.n_tokens == b.n_tokens == len(hf._encode_pair(c, x)[1])


def test_rolling_loglikelihood_agrees_and_disjoint_windows_have_context(pair) -> None:
    hf, engine = pair
    text = "The quick brown fox jumps over the lazy dog. " * 4
    ref = full_forward(hf, "", text)[0]
    for max_length, stride in [(512, 512), (16, 8), (16, 16)]:
        a = hf.loglikelihood_rolling([text], max_length, stride)[0]
        b = engine.loglikelihood_rolling([text], max_length, stride)[0]
        assert (a.n_tokens, a.n_windows) == (b.n_tokens, b.n_windows)
        assert a.logprob == pytest.approx(b.logprob, abs=1e-3)
        if max_length == 512:
            assert a.logprob == pytest.approx(ref, abs=1e-3)
        else:  # shorter context per token than the whole text, but finite and close
            assert np.isfinite(a.logprob) and a.logprob < 0


def test_engine_backend_loads_no_transformers_model(tiny_llama_dir: Path, monkeypatch) -> None:
    import transformers

    def refuse(*a, **k):
        raise AssertionError("the engine backend loaded a transformers model")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    engine = EngineBackend(str(tiny_llama_dir), kv_cache_tokens=1024)
    assert engine.llm.engine.runner.num_blocks * engine.llm.engine.config.block_size <= 1024
    out = engine.loglikelihood(flat(ITEMS[:1]))
    assert len(out) == 4 and all(r.logprob < 0 for r in out)


@pytest.mark.integration
def test_default_model_mmlu_sample_same_predictions(default_model_dir: Path) -> None:
    from lmforge.eval.runner import run_task
    from lmforge.eval.taskspec import load_task

    spec = load_task("mmlu_format")  # the shipped 10-item sample, 5-shot
    res = {
        b.name: run_task(spec, b, n_boot=10)
        for b in (HFBackend(str(default_model_dir)), EngineBackend(str(default_model_dir)))
    }
    hf, eng = res["hf"]["items"], res["engine"]["items"]
    diff = max(
        abs(x - y)
        for a, b in zip(hf, eng, strict=True)
        for x, y in zip(a["loglikelihoods"], b["loglikelihoods"], strict=True)
    )
    assert diff < 1e-3, diff
    assert [a["pred"] for a in hf] == [b["pred"] for b in eng]
