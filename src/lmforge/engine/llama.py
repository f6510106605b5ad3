"""Our Llama-family forward (Llama 2/3, SmolLM2, Mistral, Qwen2) over a paged KV cache.

Same math as transformers' implementation, reorganised for serving: q/k/v and gate/up are fused
into one matmul each, every step runs all sequences' tokens as one flat [N, hidden] batch, and
attention reads/writes the block cache (see attention.py). RoPE tables come from transformers'
own rotary module for the architecture, so theta and scaling (rope.py: linear, dynamic NTK,
YaRN, llama3) match it.
"""

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lmforge.engine.attention import AttnMeta, paged_attention
from lmforge.engine.rope import ROPE_TYPES
from lmforge.errors import ModelLoadError

SUPPORTED = ("llama", "mistral", "qwen2")


@dataclass(slots=True, frozen=True)
class ModelSpec:
    """The architecture numbers the engine needs, read from an HF config."""

    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    tie_word_embeddings: bool
    max_position_embeddings: int
    sliding_window: int | None

    @classmethod
    def from_hf(cls, config: Any, source: str) -> "ModelSpec":
        mt = config.model_type
        if mt not in SUPPORTED:
            arch = ", ".join(getattr(config, "architectures", None) or []) or "unknown"
            raise ModelLoadError(
                f"{source}: the engine does not support architecture {arch} (model_type {mt!r}); "
                f"supported: {', '.join(SUPPORTED)} (use transformers for others)"
            )
        if getattr(config, "hidden_act", "silu") != "silu":
            raise ModelLoadError(
                f"{source}: hidden_act {config.hidden_act!r}; only silu is supported"
            )
        rope = (
            getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
        )
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        if rope_type not in ROPE_TYPES:
            raise ModelLoadError(
                f"{source}: rope_type {rope_type!r} is not supported; "
                f"supported: {', '.join(ROPE_TYPES)}"
            )
        heads = config.num_attention_heads
        attn_bias = bool(getattr(config, "attention_bias", False))
        window = getattr(config, "sliding_window", None)
        if mt == "qwen2" and not getattr(config, "use_sliding_window", False):
            window = None
        layer_types = getattr(config, "layer_types", None) or []
        if window and any(t != "sliding_attention" for t in layer_types):
            window = None  # mixed full/sliding layers: the engine caps the context at the window
        return cls(
            model_type=mt,
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_layers=config.num_hidden_layers,
            num_heads=heads,
            num_kv_heads=getattr(config, "num_key_value_heads", None) or heads,
            head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
            rms_norm_eps=config.rms_norm_eps,
            qkv_bias=mt == "qwen2" or attn_bias,
            o_bias=attn_bias and mt != "qwen2",
            mlp_bias=bool(getattr(config, "mlp_bias", False)),
            tie_word_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
            max_position_embeddings=config.max_position_embeddings,
            sliding_window=window,
        )


def rope_table(config: Any, max_len: int) -> tuple[Tensor, Tensor]:
    """cos/sin [max_len, head_dim] from transformers' rotary module for this model type."""
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    from transformers.models.mistral.modeling_mistral import MistralRotaryEmbedding
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

    cls = {
        "llama": LlamaRotaryEmbedding,
        "mistral": MistralRotaryEmbedding,
        "qwen2": Qwen2RotaryEmbedding,
    }[config.model_type]
    rotary = cls(config)
    dummy = torch.zeros(1, dtype=torch.float32)
    cos, sin = rotary(dummy, torch.arange(max_len).unsqueeze(0))
    return cos[0], sin[0]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype == torch.float32:  # same math as below, one fused op instead of six
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        # As transformers: normalise in fp32, cast back, then scale.
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rope_step(cos: Tensor, sin: Tensor, positions: Tensor, dtype: torch.dtype) -> tuple:
    """This step's cos [N, 1, D] and sign-folded sin [N, 1, D] (-sin on the first half), so
    that `rotate` is one roll and two multiplies; built once per step, shared by all layers."""
    c, s = cos[positions].to(dtype), sin[positions].to(dtype)
    half = s.shape[-1] // 2
    return c.unsqueeze(1), torch.cat((-s[:, :half], s[:, half:]), -1).unsqueeze(1)


def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x [N, heads, D]; cos/sin from `rope_step`: the rotate-half RoPE transformers uses
    (x * cos + rotate_half(x) * sin, with rotate_half(x) = roll(x, D/2) * [-1.., +1..])."""
    return torch.addcmul(x * cos, x.roll(x.shape[-1] // 2, -1), sin)


class Attention(nn.Module):
    def __init__(self, s: ModelSpec) -> None:
        super().__init__()
        self.h, self.kv, self.d = s.num_heads, s.num_kv_heads, s.head_dim
        self.qkv_proj = nn.Linear(s.hidden_size, (self.h + 2 * self.kv) * self.d, bias=s.qkv_bias)
        self.o_proj = nn.Linear(self.h * self.d, s.hidden_size, bias=s.o_bias)

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, meta: AttnMeta, kc: Tensor, vc: Tensor
    ) -> Tensor:
        n, h, d = x.shape[0], self.h, self.d
        qk, v = self.qkv_proj(x).split([(h + self.kv) * d, self.kv * d], -1)
        qk = rotate(qk.view(n, h + self.kv, d), cos, sin)  # q and k heads in one pass
        o = paged_attention(qk[:, :h], qk[:, h:], v.view(n, self.kv, d), kc, vc, meta)
        return self.o_proj(o.reshape(n, h * d))


class MLP(nn.Module):
    def __init__(self, s: ModelSpec) -> None:
        super().__init__()
        self.gate_up_proj = nn.Linear(s.hidden_size, 2 * s.intermediate_size, bias=s.mlp_bias)
        self.down_proj = nn.Linear(s.intermediate_size, s.hidden_size, bias=s.mlp_bias)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class DecoderLayer(nn.Module):
    def __init__(self, s: ModelSpec) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)
        self.self_attn = Attention(s)
        self.post_attention_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)
        self.mlp = MLP(s)

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, meta: AttnMeta, kc: Tensor, vc: Tensor
    ) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, meta, kc, vc)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaForCausalLM(nn.Module):
    """Flat-batch causal LM: `forward` returns hidden states, `logits` projects chosen rows."""

    def __init__(self, spec: ModelSpec, cos: Tensor, sin: Tensor) -> None:
        super().__init__()
        self.spec = spec
        self.embed_tokens = nn.Embedding(spec.vocab_size, spec.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(spec) for _ in range(spec.num_layers))
        self.norm = RMSNorm(spec.hidden_size, spec.rms_norm_eps)
        self.lm_head = nn.Linear(spec.hidden_size, spec.vocab_size, bias=False)
        if spec.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(
        self, input_ids: Tensor, positions: Tensor, meta: AttnMeta, kv: list[tuple[Tensor, Tensor]]
    ) -> Tensor:
        x = self.embed_tokens(input_ids)
        cos, sin = rope_step(self.cos, self.sin, positions, x.dtype)
        for layer, (kc, vc) in zip(self.layers, kv, strict=True):
            x = layer(x, cos, sin, meta, kc, vc)
        return x

    def logits(self, hidden: Tensor) -> Tensor:
        return self.lm_head(self.norm(hidden)).float()
