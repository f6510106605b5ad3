"""RoPE scaling for running past the trained context: linear, dynamic NTK, YaRN (and llama3).

The tables themselves come from transformers' rotary module (llama.py `rope_table`), so each
type is exactly transformers' math; this module only decides *which* parameters apply: the
model config's own `rope_parameters` / `rope_scaling`, or an override from the engine config
(`rope_scaling: {rope_type: yarn, factor: 2}`), merged over the model's (theta is kept), and the
context length that the scaling buys (trained length x factor).

Dynamic NTK in a paged cache: transformers recomputes the base for the current sequence length
at each forward. The engine builds one table for `max_model_len` (as vLLM does), so every
sequence gets the base that length needs; K/V already in the cache never need re-rotating.
Below the trained length dynamic equals default only when `max_model_len` is within it.
"""

from typing import Any

from lmforge.errors import LMForgeError

ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "llama3")
SCALED = ("linear", "dynamic", "yarn", "llama3")


def rope_params(config: Any) -> dict[str, Any]:
    """The config's global rope parameters dict (empty when it has none)."""
    p = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    return dict(p)


def apply_rope_scaling(config: Any, override: dict[str, Any] | None, source: str) -> None:
    """Merge `override` into the HF config's rope parameters in place (theta and the other keys
    the model had are kept; `type` is accepted for `rope_type` as in old configs)."""
    if not override:
        return
    o = dict(override)
    if "type" in o:
        o.setdefault("rope_type", o.pop("type"))
    kind = o.get("rope_type")
    if kind not in ROPE_TYPES:
        raise LMForgeError(
            f"rope_scaling.rope_type {kind!r} (for {source}) is not supported; "
            f"use one of {', '.join(ROPE_TYPES)}"
        )
    if kind in SCALED and not (isinstance(o.get("factor"), int | float) and o["factor"] >= 1):
        raise LMForgeError(
            f"rope_scaling.factor {o.get('factor')!r} (for {source}): {kind} needs a number >= 1, "
            "e.g. {rope_type: yarn, factor: 2}"
        )
    params = rope_params(config)
    for k in ("factor", "original_max_position_embeddings", "attention_factor"):
        params.pop(k, None)  # the model's own scaling does not mix with a new one
    params.update(o)
    if kind in ("yarn", "llama3"):
        params.setdefault("original_max_position_embeddings", config.max_position_embeddings)
    if kind == "llama3":
        params.setdefault("low_freq_factor", 1.0)
        params.setdefault("high_freq_factor", 4.0)
    config.rope_parameters = params  # transformers 5 reads only this (rope_scaling is its alias)


def context_limit(config: Any) -> int:
    """Longest context the rope supports: the trained length, x factor when scaled."""
    trained = getattr(config, "max_position_embeddings", 2048)
    p = rope_params(config)
    kind = p.get("rope_type", p.get("type", "default"))
    if kind not in SCALED or not p.get("factor"):
        return trained
    original = p.get("original_max_position_embeddings") or trained
    return max(trained, int(original * p["factor"]))
