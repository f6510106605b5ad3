"""Device and dtype from config: auto resolution, refusals with the fix, and (with a GPU) the
same engine on CUDA in bf16. The CUDA tests are marked `cuda` and skipped without one."""

from pathlib import Path

import pytest
import torch
from engine_helpers import PROMPTS, make_engine

from lmforge.engine import EngineConfig, SamplingParams
from lmforge.engine.device import resolve_device, resolve_dtype
from lmforge.errors import LMForgeError

needs_cuda = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_auto_dtype_is_bf16_on_cuda_fp32_on_cpu() -> None:
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert resolve_dtype("float16", torch.device("cpu")) == torch.float16


def test_quantized_auto_stays_on_cpu_and_cuda_is_refused_at_config_time() -> None:
    assert resolve_device("auto", quantized=True).type == "cpu"
    with pytest.raises(ValueError, match=r"CPU kernels only.*quantization='none'"):
        EngineConfig(device="cuda", quantization="int4")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_a_gpu_names_the_fix() -> None:
    with pytest.raises(LMForgeError, match="no CUDA device; use 'cpu'"):
        resolve_device("cuda")


def test_no_hard_coded_cpu_in_engine_code() -> None:
    """Every engine tensor follows the configured device (quant.py is CPU-only by design)."""
    src = Path(__file__).parents[2] / "src" / "lmforge" / "engine"
    for f in src.glob("*.py"):
        if f.name in ("device.py", "cpu.py", "quant.py", "bench.py", "config.py"):  # messages
            continue
        text = f.read_text()
        assert 'device="cpu"' not in text and "device='cpu'" not in text, f.name
        assert ".cpu()" not in text, f.name


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_engine_generates_on_device(tiny_llama_dir: Path, device: str) -> None:
    e = make_engine(tiny_llama_dir, device=device)
    assert e.device.type == device
    assert e.model.embed_tokens.weight.dtype == resolve_dtype("auto", e.device)
    params = [
        SamplingParams(max_tokens=8, temperature=0, ignore_eos=True),
        SamplingParams(max_tokens=8, temperature=0.8, top_p=0.9, seed=3, ignore_eos=True),
        SamplingParams(max_tokens=8, temperature=1.0, top_k=5, logprobs=2, ignore_eos=True),
    ]
    ids = [e.add_request(PROMPTS[i], p) for i, p in enumerate(params)]
    done = {}
    while e.has_unfinished():
        done.update({o.request_id: o for o in e.step() if o.finished})
    assert all(len(done[i].token_ids) == 8 for i in ids)
    assert len(done[ids[2]].top_logprobs[0]) == 2


@pytest.mark.parametrize("_", [0], ids=["cuda"])
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fp32_greedy_matches_cpu(tiny_llama_dir: Path, _: int) -> None:
    params = SamplingParams(max_tokens=16, temperature=0, ignore_eos=True)
    outs = []
    for device in ("cpu", "cuda"):
        e = make_engine(tiny_llama_dir, device=device, dtype="float32")
        rid = e.add_request(PROMPTS[1], params)
        while e.has_unfinished():
            outs += [o.token_ids for o in e.step() if o.finished and o.request_id == rid]
    assert outs[0] == outs[1]
