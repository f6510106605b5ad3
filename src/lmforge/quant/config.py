"""`QuantizeConfig` and `GgufExportConfig`: the YAML files under examples/quant/ mirror them key
for key, and the `lmforge quantize` / `lmforge export gguf` flags of the same names override them.
"""

from typing import Literal

from pydantic import Field, model_validator

from lmforge.config import StageConfig
from lmforge.quant.calib import DEFAULT_CALIB


class QuantizeConfig(StageConfig):
    """Post-training weight quantization of a model's decoder linears."""

    model: str = Field("default", description="Model: 'default', an HF directory or a .gguf.")
    method: Literal["rtn", "awq", "gptq"] = Field("gptq", description="rtn, awq or gptq.")
    bits: Literal[2, 3, 4, 8] = Field(4, description="Bits per weight.")
    group_size: Literal[32, 64, 128] = Field(128, description="Weights sharing one scale/zero.")
    sym: bool = Field(False, description="Symmetric grid (zero fixed mid-range); AWQ needs asym.")
    act_order: bool = Field(True, description="GPTQ: columns in decreasing Hessian diagonal.")
    damp: float = Field(0.01, gt=0, le=1, description="GPTQ: damping, a fraction of mean diag(H).")
    calib: str = Field(DEFAULT_CALIB, description="Calibration data (JSONL/TXT, pkg:<pkg>/<file>).")
    n_samples: int = Field(128, ge=1, description="Calibration blocks.")
    seq_len: int = Field(256, ge=8, description="Tokens per calibration block.")
    batch_size: int = Field(16, ge=1, description="Calibration blocks per forward.")
    format: Literal["auto", "awq", "gptq"] = Field(
        "auto",
        description="Checkpoint layout; auto: AWQ gemm for 4-bit awq whose groups divide every "
        "layer, else GPTQ (which takes any bits and a short last group).",
    )
    out: str = Field(..., description="Output model directory (rerun to resume).")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all).")

    @model_validator(mode="after")
    def _check(self) -> "QuantizeConfig":
        if self.method == "awq" and self.sym:
            raise ValueError("AWQ uses an asymmetric grid (zero points); drop sym")
        if self.format == "awq" and self.bits != 4:
            raise ValueError(f"format awq is 4-bit only, got bits={self.bits}; use format gptq")
        return self


class GgufExportConfig(StageConfig):
    """Export a Llama-family model to one GGUF file llama.cpp / Ollama run."""

    model: str = Field("default", description="Model: 'default', an HF dir (AWQ/GPTQ too).")
    out: str = Field(..., description="Output .gguf file.")
    type: Literal["F32", "F16", "Q8_0", "Q4_0"] = Field("F16", description="Tensor type.")
