"""Multi-LoRA: per-adapter greedy output equals PEFT's merged model, in one mixed batch."""

import json
from pathlib import Path

import pytest
import torch
from engine_helpers import PROMPTS, make_engine

from lmforge.engine import SamplingParams
from lmforge.engine.lora import AdapterError
from lmforge.models.tiny import make_random_adapter

ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_adapter(base: Path, out: Path, seed: int, r: int, targets: list[str]) -> tuple[Path, Path]:
    """A random PEFT adapter (nonzero B) and PEFT's merged model beside it."""
    make_random_adapter(base, out / "adapter", seed, r, targets, merged_dir=out / "merged")
    return out / "adapter", out / "merged"


@pytest.fixture(scope="module")
def adapters(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("lora")
    a = make_adapter(tiny_llama_dir, root / "a", 1, 4, ALL)
    (root / "b").mkdir()
    b = make_adapter(tiny_llama_dir, root / "b", 2, 8, ["q_proj", "v_proj", "down_proj"])
    return {"a": a, "b": b}


def greedy(engine, prompts, adapter=None):
    from lmforge.engine.llm import LLM

    llm = LLM.__new__(LLM)
    llm.engine = engine
    p = SamplingParams(max_tokens=12, temperature=0, ignore_eos=True, adapter=adapter)
    return [o.token_ids for o in llm.generate(prompts, p)]


@pytest.mark.parametrize("path", ["auto", "avx2", "torch"])
def test_mixed_batch_equals_merged_models(
    tiny_llama_dir: Path, adapters: dict, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The C++ delta (AVX512 or AVX2, kernels/lora.cpp) and the torch ops give the merged
    model's tokens."""
    from lmforge.engine.kernels import choose
    from lmforge.engine.llm import LLM

    if path == "avx2" and choose().isa < 1:
        pytest.skip(f"our kernels unavailable: {choose().reason}")
    monkeypatch.setenv("LMFORGE_QGEMM", path)
    eng = make_engine(tiny_llama_dir)
    assert eng.lora.isa == {"auto": choose().isa, "avx2": 1, "torch": 0}[path]
    for name, (adapter_dir, _) in adapters.items():
        eng.load_adapter(name, str(adapter_dir))
    want = {None: greedy(make_engine(tiny_llama_dir), PROMPTS)}
    for name, (_, merged) in adapters.items():
        want[name] = greedy(make_engine(merged), PROMPTS)
    assert want["a"] != want[None] and want["b"] != want[None]  # the adapters do something
    # one generate call: every prompt under base, a and b, interleaved in the same batches
    names = [None, "a", "b"]
    prompts = [p for p in PROMPTS for _ in names]
    params = [
        SamplingParams(max_tokens=12, temperature=0, ignore_eos=True, adapter=n)
        for _ in PROMPTS
        for n in names
    ]
    llm = LLM.__new__(LLM)
    llm.engine = eng
    got = [o.token_ids for o in llm.generate(prompts, params)]
    for i, toks in enumerate(got):
        assert toks == want[names[i % 3]][i // 3], (names[i % 3], PROMPTS[i // 3])


def test_prefix_cache_is_per_adapter(tiny_llama_dir: Path, adapters: dict) -> None:
    eng = make_engine(tiny_llama_dir, block_size=4)
    eng.load_adapter("a", str(adapters["a"][0]))
    prompt = PROMPTS[3] * 2
    base1 = greedy(eng, [prompt])
    with_a = greedy(eng, [prompt], "a")  # would reuse the base's blocks if keyed on tokens only
    assert with_a == greedy(make_engine(adapters["a"][1], block_size=4), [prompt])
    assert greedy(eng, [prompt]) == base1
    assert eng.blocks.hits > 0  # the repeats did hit the cache


def test_lru_unload_and_errors(tiny_llama_dir: Path, adapters: dict, tmp_path: Path) -> None:
    eng = make_engine(tiny_llama_dir, max_loras=1)
    eng.load_adapter("a", str(adapters["a"][0]))
    eng.load_adapter("b", str(adapters["b"][0]))  # evicts a from memory, a stays registered
    assert list(eng.lora.loaded) == ["b"] and eng.lora.names() == ["a", "b"]
    assert greedy(eng, [PROMPTS[0]], "a") == greedy(make_engine(adapters["a"][1]), [PROMPTS[0]])
    assert list(eng.lora.loaded) == ["a"]
    eng.unload_adapter("a")
    with pytest.raises(AdapterError, match="'a' is not loaded") as e:
        eng.add_request("x", SamplingParams(adapter="a"))
    assert e.value.missing
    with pytest.raises(AdapterError, match="not found"):
        eng.load_adapter("c", str(tmp_path))
    with pytest.raises(AdapterError, match="max_lora_rank=4"):
        make_engine(tiny_llama_dir, max_lora_rank=4).load_adapter("b", str(adapters["b"][0]))
    bad = tmp_path / "bad"
    bad.mkdir()
    cfg = json.loads((adapters["a"][0] / "adapter_config.json").read_text())
    (bad / "adapter_config.json").write_text(json.dumps({**cfg, "target_modules": ["lm_head"]}))
    from safetensors.torch import save_file

    save_file(
        {"base_model.model.lm_head.lora_A.weight": torch.zeros(4, 64)},
        str(bad / "adapter_model.safetensors"),
    )
    with pytest.raises(AdapterError, match="not a LoRA weight of a decoder layer"):
        eng.load_adapter("bad", str(bad))


def test_adapter_of_another_base_is_refused(tiny_llama_dir: Path, adapters: dict) -> None:
    """An adapter trained on the 64-wide tiny model does not fit a 96-wide one."""
    from lmforge.models.tiny import make_tiny_model

    wide = make_tiny_model("llama", tiny_llama_dir.parent / "wide", seed=3, hidden_size=96)
    with pytest.raises(AdapterError, match="trained for another base"):
        make_engine(wide).load_adapter("a", str(adapters["a"][0]))


def test_adapter_over_int8_base(tiny_llama_dir: Path, adapters: dict) -> None:
    """LoRA adds onto the quantized projections too (same math, int8 base weights)."""
    eng = make_engine(tiny_llama_dir, quantization="int8")
    base = greedy(eng, PROMPTS[:2])
    eng.load_adapter("a", str(adapters["a"][0]))
    assert greedy(eng, PROMPTS[:2]) == base  # no adapter named: the base is untouched
    assert greedy(eng, PROMPTS[:2], "a") != base
