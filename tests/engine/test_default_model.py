"""The default model (SmolLM2-135M) against transformers `generate`, greedy, fp32."""

import pytest
import torch

from lmforge.engine import LLM, SamplingParams

pytestmark = pytest.mark.integration

TOPICS = [
    "the water cycle",
    "how a compiler works",
    "the French revolution",
    "photosynthesis",
    "black holes",
    "the stock market",
    "machine learning",
    "the Roman empire",
    "volcanoes",
    "the human heart",
    "jazz music",
    "climate change",
    "the internet",
    "honey bees",
    "chess openings",
    "the moon landing",
    "vaccines",
    "coffee",
    "prime numbers",
    "glaciers",
]


def test_greedy_matches_transformers_on_20_prompts(default_model_dir) -> None:
    from transformers import AutoModelForCausalLM

    llm = LLM(str(default_model_dir), kv_cache_gb=0.3)
    tok = llm.tokenizer
    prompts = [
        tok.apply_chat_template(
            [{"role": "user", "content": f"Explain {t} in a few sentences."}],
            tokenize=False,
            add_generation_prompt=True,
        )
        for t in TOPICS
    ]
    ids = [tok.encode(p, add_special_tokens=False) for p in prompts]
    params = SamplingParams(max_tokens=64, temperature=0)
    ours = [o.token_ids for o in llm.generate(ids, params)]
    # transformers in one left-padded batch (one request at a time is 10x slower on 2 cores)
    hf = AutoModelForCausalLM.from_pretrained(default_model_dir, dtype=torch.float32).eval()
    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        ref = hf.generate(
            **enc,
            max_new_tokens=64,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
            return_dict_in_generate=True,
            output_logits=True,
        )
    eos = hf.generation_config.eos_token_id
    matched = 0
    for row, got in enumerate(ours):
        want = ref.sequences[row, enc.input_ids.shape[1] :].tolist()
        if eos in want:  # finished rows are padded after their EOS
            want = want[: want.index(eos) + 1]
        if got == want:
            matched += 1
            continue
        first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)  # noqa: B905
        top2 = ref.logits[first][row].float().topk(2).values
        gap = (top2[0] - top2[1]).item()
        assert gap < 1e-4, f"prompt {row} diverged at {first}, top-2 gap {gap:.2e}: not a near-tie"
    assert matched >= 19, f"only {matched}/20 prompts matched token for token"
