"""Our forward vs transformers: prefill logits within 1e-4, greedy tokens equal."""

import json
from pathlib import Path

import pytest
import torch
from engine_helpers import PROMPTS, make_engine
from transformers import AutoModelForCausalLM

from lmforge.engine import LLMEngine, SamplingParams
from lmforge.engine.attention import AttnMeta, PrefillSpan
from lmforge.engine.loader import load_llama
from lmforge.errors import ModelLoadError


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_prefill_logits_match_transformers(arch: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(f"tiny_{arch}_dir")
    ours, _ = load_llama(path, 512, torch.float32)
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ids = torch.randint(0, ours.spec.vocab_size, (40,), generator=torch.Generator().manual_seed(0))
    kv = [(torch.zeros(3, 16, 2, 16), torch.zeros(3, 16, 2, 16)) for _ in range(2)]
    meta = AttnMeta(torch.arange(40), [], [PrefillSpan(0, 40, 0, torch.arange(3))])
    with torch.inference_mode():
        got = ours.logits(ours(ids, torch.arange(40), meta, kv))
        want = hf(ids.unsqueeze(0)).logits[0]
    assert (got - want).abs().max().item() < 1e-4


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_greedy_matches_transformers_generate(arch: str, request: pytest.FixtureRequest) -> None:
    engine: LLMEngine = request.getfixturevalue(f"tiny_{arch}_engine")
    hf = AutoModelForCausalLM.from_pretrained(engine.path, dtype=torch.float32).eval()
    ids = [engine.tokenizer.encode(p) for p in PROMPTS]
    for i, p in enumerate(ids):
        engine.add_request(
            p, SamplingParams(max_tokens=24, temperature=0, ignore_eos=True), f"g{i}"
        )
    outs = {}
    while engine.has_unfinished():
        outs.update({o.request_id: o for o in engine.step() if o.finished})
    for i, p in enumerate(ids):
        ref = hf.generate(torch.tensor([p]), max_new_tokens=24, do_sample=False, min_new_tokens=24)[
            0, len(p) :
        ]
        assert outs[f"g{i}"].token_ids == ref.tolist(), PROMPTS[i]


def test_unsupported_architecture_names_it(tiny_llama_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "gpt2ish"
    bad.mkdir()
    for f in tiny_llama_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model_type"], cfg["architectures"] = "gpt2", ["GPT2LMHeadModel"]
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match=r"GPT2LMHeadModel.*supported: llama, mistral, qwen2"):
        make_engine(bad)
    with pytest.raises(ModelLoadError):
        make_engine(tmp_path / "missing")
