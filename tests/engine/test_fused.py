"""The fused batch-1 decode step (engine/kernels/decode.cpp) against the torch path it replaces:
logits of every step and greedy tokens on tiny random Llama / Qwen2 (q/k/v bias, untied head,
sliding window) models over a paged cache with a prompt of several blocks, per weight mode and
per ISA path (AVX2 forced on AVX512 machines), and that it is not taken where it does not apply
(batches, adapters, speculative verification, fp8 KV, LMFORGE_FUSED=0); with an int8 KV cache
it reads the codes and scales the torch path wrote and writes the ones it would."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from engine_helpers import make_engine

from lmforge.engine import LLMEngine, SamplingParams
from lmforge.engine.kernels import choose, ops
from lmforge.engine.kernels.fused import HUGE, FusedDecode, huge_arena
from lmforge.engine.scheduler import Scheduled
from lmforge.engine.sequence import Sequence
from lmforge.models.tiny import make_tiny_model

HAVE = choose().isa
ISAS = [n for n, lvl in ops.ISAS.items() if lvl <= HAVE]
pytestmark = pytest.mark.skipif(HAVE == 0, reason=f"our kernels unavailable: {choose().reason}")
PROMPT = list(range(3, 3 + 45))  # 45 tokens: three blocks of 16, the last one partly filled
TOL = {"none": 1e-5, "int8": 5e-3, "int4": 5e-3}  # quantized: activations re-round to int8


@pytest.fixture(scope="module")
def tiny_window_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer) -> Path:
    """A tiny Qwen2 whose layers all slide over 8 tokens (shorter than the prompt)."""
    out = tmp_path_factory.mktemp("tiny-window")
    kw = {"use_sliding_window": True, "sliding_window": 8, "max_window_layers": 0}
    return make_tiny_model("qwen2", out, tiny_tokenizer, seed=2, **kw)


@pytest.fixture(scope="module")
def tiny_dims_dirs(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer) -> dict[str, Path]:
    """Tiny Llamas with head_dim 64 (a compiled-in attention size, the default model's) and 24
    (the any-size fallback)."""
    out = {}
    for d in (64, 24):
        path = tmp_path_factory.mktemp(f"tiny-d{d}")
        out[f"d{d}"] = make_tiny_model("llama", path, tiny_tokenizer, seed=d, head_dim=d)
    return out


@pytest.fixture
def isa_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ops.ENV, request.param)
    return request.param


def _engine(path: Path, mode: str) -> LLMEngine:
    return make_engine(path, quantization=mode, enable_prefix_caching=False, block_size=16)


def _compare_steps(eng: LLMEngine, steps: int, tol: float) -> list[int]:
    """Prefill PROMPT, then per step: the fused logits and the torch path's on the same cache
    (the torch step rewrites the slot, so both always read the same K/V); follow the torch
    path's greedy token. Returns those tokens."""
    r = eng.runner
    fused = r.fused
    assert fused is not None, r.fused_reason
    seq = Sequence("t", list(PROMPT), SamplingParams(max_tokens=steps, temperature=0), 0.0)
    assert eng.blocks.ensure(seq, len(PROMPT) + steps)
    tokens = []
    with torch.inference_mode():
        r.fused = None
        seq.output_ids.append(int(r.run([Scheduled(seq, len(PROMPT))])[-1].argmax()))
        seq.num_computed = len(PROMPT)
        for _ in range(steps):
            r.fused = fused
            a = r.run([Scheduled(seq, 1)])
            r.fused = None
            b = r.run([Scheduled(seq, 1)])
            assert a.shape == b.shape == (1, eng.model.spec.vocab_size)
            torch.testing.assert_close(a, b, atol=tol * max(1.0, b.abs().max().item()), rtol=0)
            tokens.append(int(b.argmax()))
            seq.output_ids.append(tokens[-1])
            seq.num_computed += 1
    r.fused = fused
    eng.blocks.free_seq(seq)
    return tokens


@pytest.mark.parametrize("isa_env", ISAS, indirect=True)
@pytest.mark.parametrize("mode", ["none", "int8", "int4"])
@pytest.mark.parametrize("model", ["llama", "qwen2", "window", "d64", "d24"])
def test_fused_logits_match_torch_path(
    isa_env: str,
    mode: str,
    model: str,
    tiny_llama_dir: Path,
    tiny_qwen2_dir: Path,
    tiny_window_dir: Path,
    tiny_dims_dirs: dict[str, Path],
) -> None:
    paths = {"llama": tiny_llama_dir, "qwen2": tiny_qwen2_dir, "window": tiny_window_dir}
    path = {**paths, **tiny_dims_dirs}[model]
    assert eng_head_dim(path) == {"d64": 64, "d24": 24}.get(model, 16)
    eng = _engine(path, mode)
    assert eng.runner.fused.isa == ops.ISAS[isa_env]
    _compare_steps(eng, 24, TOL[mode])  # positions 45..68: blocks 3 and 4 are new


@pytest.mark.parametrize("isa_env", ISAS, indirect=True)
@pytest.mark.parametrize("model", ["llama", "window", "d64", "d24"])
def test_fused_int8_kv_matches_torch_path(
    isa_env: str,
    model: str,
    tiny_llama_dir: Path,
    tiny_window_dir: Path,
    tiny_dims_dirs: dict[str, Path],
) -> None:
    path = {"llama": tiny_llama_dir, "window": tiny_window_dir, **tiny_dims_dirs}[model]
    eng = make_engine(path, kv_cache_dtype="int8", enable_prefix_caching=False, block_size=16)
    assert eng.runner.fused is not None, eng.runner.fused_reason
    _compare_steps(eng, 24, 5e-3)
    sp = SamplingParams(max_tokens=24, temperature=0, ignore_eos=True)
    fused, eng.runner.fused = eng.runner.fused, None
    torch_path = _gen(eng, sp)
    eng.runner.fused = fused
    assert _gen(eng, sp) == torch_path


@pytest.mark.parametrize("isa_env", ISAS, indirect=True)
@pytest.mark.parametrize("mode", ["none", "int8", "int4"])
def test_fused_greedy_tokens_equal(isa_env: str, mode: str, tiny_qwen2_dir: Path) -> None:
    eng = _engine(tiny_qwen2_dir, mode)
    sp = SamplingParams(max_tokens=40, temperature=0, ignore_eos=True)
    calls = _count_calls(eng)
    a = _gen(eng, sp)
    assert calls[0] == 39  # every decode step after the prefill
    fused, eng.runner.fused = eng.runner.fused, None
    b = _gen(eng, sp)
    eng.runner.fused = fused
    assert a == b


def eng_head_dim(path: Path) -> int:
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(path)
    return getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads


def _gen(eng: LLMEngine, sp: SamplingParams) -> list[int]:
    eng.add_request(list(PROMPT), sp)
    out: list[int] = []
    while eng.has_unfinished():
        for o in eng.step():
            out.extend(o.delta_token_ids)
    return out


def _count_calls(eng: LLMEngine) -> list[int]:
    calls = [0]
    step = eng.runner.fused.step

    def counted(*a: object) -> torch.Tensor:
        calls[0] += 1
        return step(*a)

    eng.runner.fused.step = counted
    return calls


@pytest.mark.parametrize("mode", ["none", "int4"])
def test_fused_two_threads(mode: str, tiny_dims_dirs: dict[str, Path]) -> None:
    """With 2 threads the GEMVs split their rows and attention its KV heads over OpenMP."""
    eng = make_engine(
        tiny_dims_dirs["d64"], quantization=mode, enable_prefix_caching=False, threads=2
    )
    try:
        _compare_steps(eng, 8, TOL[mode])
    finally:
        torch.set_num_threads(1)


def test_fused_not_taken_where_it_does_not_apply(tiny_llama_dir: Path) -> None:
    eng = _engine(tiny_llama_dir, "int8")
    r = eng.runner
    calls = _count_calls(eng)
    seqs = [Sequence(f"s{i}", list(PROMPT), SamplingParams(max_tokens=4), 0.0) for i in range(2)]
    with torch.inference_mode():
        for s in seqs:
            assert eng.blocks.ensure(s, len(PROMPT) + 4)
            r.run([Scheduled(s, len(PROMPT) - 1)])  # a prefill chunk: torch path
            s.num_computed = len(PROMPT) - 1
        assert calls[0] == 0
        r.run([Scheduled(s, 1) for s in seqs])  # batch of two decodes
        assert calls[0] == 0
        r.run([Scheduled(seqs[0], 1, draft=0)])  # the one plain decode: fused
        assert calls[0] == 1
        seen: list[list] = []
        saved, r.lora = r.lora, SimpleNamespace(wrapped=True, prepare=seen.append)
        seqs[1].adapter = object()  # a LoRA request: the torch path, which tells the manager
        seqs[1].output_ids = [7]
        seqs[1].num_computed = len(PROMPT)
        r.run([Scheduled(seqs[1], 1)])
        r.lora = saved
        assert seen == [[(seqs[1].adapter, 1)]] and calls[0] == 1
        seqs[0].output_ids = [5, 6]
        seqs[0].num_computed = len(PROMPT)
        r.run([Scheduled(seqs[0], 2, draft=1)])  # speculative verification: torch path
    assert calls[0] == 1


def test_fused_off_by_env_and_for_quantized_kv(
    tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = make_engine(tiny_llama_dir, kv_cache_dtype="fp8")
    assert eng.runner.fused is None and "fp8 KV" in eng.runner.fused_reason
    monkeypatch.setenv("LMFORGE_FUSED", "0")
    eng = make_engine(tiny_llama_dir)
    assert eng.runner.fused is None and "LMFORGE_FUSED" in eng.runner.fused_reason
    monkeypatch.delenv("LMFORGE_FUSED")
    f, why = FusedDecode.build(eng.model, eng.runner.kv, eng.runner.block_size)
    assert f is not None and why == ""


def test_huge_arena_copies_and_weights_moved(tiny_llama_dir: Path) -> None:
    ts = [torch.randn(3, 5), torch.randint(0, 255, (70,), dtype=torch.uint8), torch.randn(2)]
    out = huge_arena(ts)
    for t, o in zip(ts, out, strict=True):
        assert torch.equal(t, o) and o.dtype == t.dtype and o.data_ptr() != t.data_ptr()
    assert out[0].data_ptr() % HUGE == 0  # the arena starts on a huge-page boundary
    eng = _engine(tiny_llama_dir, "int8")
    layer = eng.model.layers[0].mlp.down_proj
    base = eng.model.layers[0].self_attn.qkv_proj.packed.data_ptr()
    assert 0 < layer.packed.data_ptr() - base < 2**20  # one arena, in the order a token reads
