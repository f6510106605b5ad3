"""Running a transformers decoder one layer at a time over calibration activations.

Quantizing layer i needs the inputs layer i sees (with layers < i quantized for GPTQ, whose
compensation includes the error upstream; in float for AWQ). So the embeddings' output is
captured once, each layer runs over it and its output becomes the next layer's input; only one
layer's activations are alive at a time.
"""

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

LINEARS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


class _Stop(Exception):
    pass


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    return model.model.layers


def capture_inputs(
    model: nn.Module, blocks: Tensor, batch_size: int
) -> tuple[list[Tensor], dict[str, Any]]:
    """Layer 0's input hidden states per batch, and the keyword arguments (RoPE cos/sin,
    mask, positions) the layers are called with; these are the same for every equal batch."""
    layer0 = decoder_layers(model)[0]
    hidden: list[Tensor] = []
    kwargs: dict[str, Any] = {}

    def grab(_mod: nn.Module, args: tuple, kw: dict[str, Any]) -> None:
        hidden.append((args[0] if args else kw["hidden_states"]).detach())
        kwargs.update({k: v for k, v in kw.items() if k != "hidden_states"})
        raise _Stop

    handle = layer0.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        with torch.no_grad():
            for b0 in range(0, blocks.shape[0], batch_size):
                with contextlib.suppress(_Stop):
                    model(input_ids=blocks[b0 : b0 + batch_size], use_cache=False)
    finally:
        handle.remove()
    kwargs.pop("past_key_values", None)
    kwargs["use_cache"] = False
    return hidden, kwargs


def run_layer(layer: nn.Module, hidden: list[Tensor], kwargs: dict[str, Any]) -> list[Tensor]:
    """The layer's outputs for every batch."""
    outs = []
    with torch.no_grad():
        for h in hidden:
            kw = fit_batch(kwargs, h.shape[0])
            out = layer(h, **kw)
            outs.append(out[0] if isinstance(out, tuple) else out)
    return outs


def fit_batch(kwargs: dict[str, Any], batch: int) -> dict[str, Any]:
    """Slice batch-shaped kwargs for a last, smaller batch."""
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] > batch:
            v = v[:batch]
        elif isinstance(v, tuple) and all(isinstance(t, Tensor) for t in v):
            v = tuple(t[:batch] if t.shape[0] > batch else t for t in v)
        out[k] = v
    return out


def observe_inputs(
    layer: nn.Module,
    hidden: list[Tensor],
    kwargs: dict[str, Any],
    names: tuple[str, ...],
    sink: Callable[[str, Tensor], None],
) -> None:
    """Run the layer and hand each named linear's input [tokens, in] to `sink`."""
    mods = dict(layer.named_modules())
    handles = [
        mods[n].register_forward_hook(
            lambda _m, args, _out, n=n: sink(n, args[0].reshape(-1, args[0].shape[-1]))
        )
        for n in names
    ]
    try:
        run_layer(layer, hidden, kwargs)
    finally:
        for h in handles:
            h.remove()


def observe_calls(
    layer: nn.Module, hidden: list[Tensor], kwargs: dict[str, Any], names: tuple[str, ...]
) -> dict[str, list[tuple[Tensor, dict[str, Any]]]]:
    """Run the layer and keep each named submodule's calls: (hidden input [b, seq, d], other
    keyword arguments), so the submodule can be rerun alone on them (AWQ's block objective)."""
    mods = dict(layer.named_modules())
    calls: dict[str, list[tuple[Tensor, dict[str, Any]]]] = {n: [] for n in names}

    def keep(n: str, args: tuple, kw: dict[str, Any]) -> None:
        kw = dict(kw)
        x = args[0] if args else kw.pop("hidden_states")
        calls[n].append((x.detach(), kw))

    handles = [
        mods[n].register_forward_pre_hook(
            lambda _m, args, kw, n=n: keep(n, args, kw), with_kwargs=True
        )
        for n in names
    ]
    try:
        run_layer(layer, hidden, kwargs)
    finally:
        for h in handles:
            h.remove()
    return calls


def block_output(
    module: nn.Module, linears: list[nn.Linear], calls: list[tuple[Tensor, dict[str, Any]]]
) -> Callable[[list[Tensor]], Tensor]:
    """A function of candidate weights for `linears`: `module`'s output on the recorded `calls`
    with those weights in place (the originals are put back after each run)."""

    def run(weights: list[Tensor]) -> Tensor:
        saved = [m.weight.data for m in linears]
        try:
            for m, w in zip(linears, weights, strict=True):
                m.weight.data = w
            with torch.no_grad():
                outs = [module(x, **kw) for x, kw in calls]
        finally:
            for m, w in zip(linears, saved, strict=True):
                m.weight.data = w
        return torch.cat([(o[0] if isinstance(o, tuple) else o).float() for o in outs])

    return run
