"""`EngineConfig`: everything that decides how the engine lays out memory and batches work.

The YAML file under `examples/engine/` mirrors it key for key; `LLM(...)` / `LLMEngine(...)`
keyword arguments of the same names override it.
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from lmforge.config import StageConfig


class EngineConfig(StageConfig):
    """The inference engine: model, KV cache budget, batching limits, quantization."""

    model: str = Field("default", description="Model: 'default' or a local HF directory.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="'auto' (CUDA when present and not quantized, else CPU), 'cpu', 'cuda'."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Weights/activations/KV dtype; 'auto' = bfloat16 on CUDA, float32 on CPU "
        "(fp32 is what matches transformers exactly).",
    )
    quantization: Literal["none", "int8", "int4"] = Field(
        "none", description="Weight-only quantization of the linear layers."
    )
    int4_group_size: int = Field(
        32, description="Group size of int4 scales (32, 64, 128 or 256; 32 is GGUF Q4's own)."
    )
    block_size: int = Field(16, ge=1, le=1024, description="Tokens per KV cache block.")
    kv_cache_dtype: Literal["auto", "int8", "fp8"] = Field(
        "auto",
        description="KV cache storage: 'auto' = the activation dtype; 'int8' / 'fp8' (e4m3) codes "
        "with a per-token, per-head fp16 scale (~2x the tokens of bf16, ~3.9x of fp32).",
    )
    rope_scaling: dict[str, Any] | None = Field(
        None,
        description="RoPE scaling override merged over the model's, e.g. {rope_type: yarn, "
        "factor: 2} (linear, dynamic, yarn, llama3); raises the context limit to trained x factor.",
    )
    kv_cache_gb: float | None = Field(
        None, gt=0, description="KV cache size in GB (wins over kv_cache_fraction)."
    )
    kv_cache_fraction: float = Field(
        0.25, gt=0, le=0.95, description="KV cache size as a fraction of free RAM/VRAM."
    )
    max_num_seqs: int = Field(64, ge=1, description="Most requests running at once.")
    max_num_batched_tokens: int = Field(
        512, ge=1, description="Token budget of one step (decodes + prefill chunks)."
    )
    max_model_len: int | None = Field(
        None, ge=1, description="Longest prompt+output (default: the model's max positions)."
    )
    enable_prefix_caching: bool = Field(True, description="Reuse KV blocks of shared prefixes.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all cores).")
    cpu_kernels: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description="Activation dtype of the int8/int4 CPU kernels; 'auto' = start-up probe "
        "(bf16 where the CPU has bf16 units, else measured). Env LMFORGE_CPU_KERNELS also forces.",
    )

    adapters: dict[str, str] = Field(
        default_factory=dict, description="LoRA adapters to load at start: name -> PEFT directory."
    )
    max_loras: int = Field(8, ge=1, description="Most LoRA adapters held in memory (LRU).")
    max_lora_rank: int = Field(64, ge=1, description="Largest LoRA rank accepted.")
    speculative: Literal["off", "ngram", "draft"] = Field(
        "off",
        description="Speculative decoding for requests that do not choose: 'ngram' (prompt "
        "lookup), 'draft' (spec_draft_model), 'off'.",
    )
    spec_tokens: int = Field(4, ge=1, le=16, description="Draft tokens verified per step.")
    spec_draft_model: str | None = Field(
        None, description="Draft model (same tokenizer, smaller) for speculative='draft'."
    )
    spec_max_batch: int = Field(
        4, ge=1, description="Speculate only while at most this many sequences run."
    )
    spec_min_acceptance: float = Field(
        0.3, ge=0, le=1, description="Below this acceptance rate a request stops speculating."
    )

    @model_validator(mode="after")
    def _check_group(self) -> "EngineConfig":
        if self.int4_group_size not in (32, 64, 128, 256):
            raise ValueError(
                f"int4_group_size must be 32, 64, 128 or 256, got {self.int4_group_size}"
            )
        if self.device == "cuda" and self.quantization != "none":
            raise ValueError(
                f"quantization={self.quantization!r} runs torch's CPU kernels only; on "
                "device='cuda' use quantization='none' (bf16), or set device='cpu'"
            )
        if self.speculative == "draft" and not self.spec_draft_model:
            raise ValueError("speculative='draft' needs spec_draft_model (a smaller model)")
        return self
