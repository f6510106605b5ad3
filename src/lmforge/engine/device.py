"""Device and dtype from config: `auto` means CUDA when torch sees one, else CPU.

One place decides, so no engine file (nor the embedders in rag/guard/serve) hard-codes "cpu".
On CUDA the default dtype is bf16 (tensor cores, half the KV cache); on CPU it is fp32, the dtype
that matches transformers exactly. Quantized modes run torch's CPU kernels, so `auto` with
quantization stays on CPU and an explicit `cuda` is refused by EngineConfig's validator.
"""

import torch

from lmforge.errors import LMForgeError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def default_device() -> str:
    """'cuda' when torch sees a GPU, else 'cpu' (what `auto` resolves to)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(name: str, quantized: bool = False) -> torch.device:
    if name == "auto":
        name = "cpu" if quantized else default_device()
    if name == "cuda" and not torch.cuda.is_available():
        raise LMForgeError("EngineConfig.device='cuda' but torch sees no CUDA device; use 'cpu'")
    if quantized and name != "cpu":
        raise LMForgeError("int8/int4 quantization runs on CPU only; set device='cpu'")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return DTYPES[name]
