"""`/v1/completions` echo + logprobs: the prompt's own log-probs (legacy scoring requests),
max_tokens=0, text_offset, through the real `openai` client."""

import openai
import pytest
import torch
from tests.serve.conftest import KEY, Running


def hf_prompt_logprobs(model_dir, ids: list[int]) -> list[float]:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        lp = model(torch.tensor([ids])).logits[0].float().log_softmax(-1)
    return [lp[p - 1, ids[p]].item() for p in range(1, len(ids))]


PROMPT = "Return a new ordered dictionary which remembers"


def test_echo_scores_the_prompt_with_max_tokens_zero(
    client: openai.OpenAI, tiny_server: Running, tiny_llama_dir
) -> None:
    r = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=0, echo=True, logprobs=2)
    (c,) = r.choices
    tok = tiny_server.state.engine.tokenizer
    ids = tok.encode(PROMPT, add_special_tokens=False)
    assert c.text == PROMPT and c.finish_reason == "length"
    lp = c.logprobs
    assert lp.tokens == [tok.decode([t]) for t in ids]
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    ref = hf_prompt_logprobs(tiny_llama_dir, ids)
    assert lp.token_logprobs[1:] == pytest.approx(ref, abs=1e-4)
    assert all(len(t) <= 2 for t in lp.top_logprobs[1:])
    assert lp.text_offset == [
        PROMPT.index(w, o) for w, o in zip(lp.tokens, lp.text_offset, strict=True)
    ]
    assert lp.text_offset[0] == 0 and lp.text_offset[-1] == len(PROMPT) - len(lp.tokens[-1])
    assert r.usage.completion_tokens == 0 and r.usage.prompt_tokens == len(ids)
    tiny_server.wait_idle()


def test_echo_with_generation_and_streaming(client: openai.OpenAI, tiny_server: Running) -> None:
    kw = dict(model="tiny", prompt=PROMPT, max_tokens=5, temperature=0, echo=True, logprobs=1)
    full = client.completions.create(**kw).choices[0]
    plain = client.completions.create(**{**kw, "echo": False}).choices[0]
    assert full.text == PROMPT + plain.text
    n_prompt = len(full.logprobs.tokens) - len(plain.logprobs.tokens)
    assert full.logprobs.tokens[n_prompt:] == plain.logprobs.tokens
    assert full.logprobs.token_logprobs[n_prompt:] == pytest.approx(plain.logprobs.token_logprobs)
    # offsets index the returned text: the prompt's, then the completion's after it
    for w, o in zip(full.logprobs.tokens, full.logprobs.text_offset, strict=True):
        assert full.text[o : o + len(w)] == w
    assert plain.logprobs.text_offset[0] == 0
    chunks = list(client.completions.create(**kw, stream=True))
    text = "".join(ch.choices[0].text for ch in chunks if ch.choices)
    assert text == full.text
    offsets = [
        o
        for ch in chunks
        if ch.choices and ch.choices[0].logprobs
        for o in ch.choices[0].logprobs.text_offset
    ]
    assert offsets == full.logprobs.text_offset
    tiny_server.wait_idle()


def test_max_tokens_zero_without_echo_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="echo"):
        client.completions.create(model="tiny", prompt="Hi", max_tokens=0)


def test_eval_openai_backend_scores_like_hf_against_this_server(
    tiny_server: Running, tiny_llama_dir
) -> None:
    """lmforge's own eval client (echo + logprobs + max_tokens=0) against lmforge's server."""
    from lmforge.eval.backends import make_backend
    from lmforge.eval.backends.hf import HFBackend

    pairs = [("The json module", " parses"), ("Return a new", " ordered dictionary")]
    api = make_backend("openai", "tiny", base_url=tiny_server.url + "/v1", api_key=KEY)
    hf = HFBackend(str(tiny_llama_dir))
    for a, b in zip(api.loglikelihood(pairs), hf.loglikelihood(pairs), strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
        assert (a.is_greedy, a.n_tokens) == (b.is_greedy, b.n_tokens)
    tiny_server.wait_idle()
