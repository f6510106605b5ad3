"""`quantize_model`: RTN, AWQ or GPTQ over every decoder linear, one layer at a time.

Per layer: observe the calibration inputs of its linears, quantize (GPTQ from the input
Hessians; AWQ: scale search, fold, clip search, then RTN) and put the dequantized weights in
place. The next layer's input differs by method, as in each reference: GPTQ runs the quantized
layer (its error compensation then absorbs the error upstream); AWQ runs the float layer
(AutoAWQ's `_get_input_feat`), so every layer's search sees the float model's activations and
the scales of one layer are not fitted to another layer's rounding noise. The
embeddings, norms and lm_head stay in float, as in AutoAWQ's and GPTQModel's checkpoints.
"""

import time
from pathlib import Path
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import Tensor, nn

from lmforge.errors import LMForgeError
from lmforge.quant.awq import apply_clip, search_clip, search_scales
from lmforge.quant.calib import calibration_blocks
from lmforge.quant.checkpoint import write_checkpoint
from lmforge.quant.config import QuantizeConfig
from lmforge.quant.gptq import Hessian, gptq
from lmforge.quant.grid import QuantizedWeight, rtn
from lmforge.quant.layers import (
    LINEARS,
    block_output,
    capture_inputs,
    decoder_layers,
    observe_calls,
    observe_inputs,
    run_layer,
)
from lmforge.quant.state import LayerState

SUPPORTED = ("llama", "mistral", "qwen2")
# Linears that read the same input share its statistics (Hessian, activation scales).
SHARES = {"self_attn.k_proj": "self_attn.q_proj", "self_attn.v_proj": "self_attn.q_proj"}
SHARES["mlp.up_proj"] = "mlp.gate_proj"
LEADERS = ("self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.down_proj")
# AWQ's scale and clip searches score up to this many calibration tokens: every token of the
# bench's 32 x 256 calibration. Measured (docs/benchmarks.md, session awq8): scoring 2048 of
# its 8192 tokens for the scales and 512 for the clip recovered 44% of RTN's perplexity rise,
# all 8192 for both 52% (51% through the engine); the clip alone on 512 -> 4096 tokens: 47% -> 50%.
AWQ_SCALE_TOKENS, AWQ_CLIP_TOKENS = 8192, 8192


def leader(name: str) -> str:
    return SHARES.get(name, name)


def gptq_layer(
    layer: nn.Module, hidden: list[Tensor], kwargs: dict[str, Any], cfg: QuantizeConfig
) -> dict[str, QuantizedWeight]:
    mods = dict(layer.named_modules())
    hs = {n: Hessian(mods[n].in_features) for n in LEADERS}
    observe_inputs(layer, hidden, kwargs, LEADERS, lambda n, x: hs[n].add(x))
    return {
        n: gptq(
            mods[n].weight,
            hs[leader(n)].h,
            cfg.bits,
            cfg.group_size,
            cfg.sym,
            cfg.act_order,
            cfg.damp,
        )
        for n in LINEARS
    }


def whole_sequences(hidden: list[Tensor], tokens: int) -> list[Tensor]:
    """About `tokens` tokens of whole calibration sequences, evenly spread over the batches.

    Whole sequences, not every k-th token: position 0 of each sequence is an attention sink
    whose down_proj input is up to ~2500x the others' in one channel (SmolLM2 layer 28), so a
    token stride that divides seq_len kept every sink and raised their share from 1/seq_len to
    up to 1/16 (128 x 256 tokens), and the scales were fitted to the sinks."""
    seqs = sum(h.shape[0] for h in hidden)
    step = max(1, seqs * hidden[0].shape[1] // tokens)
    picked, first = [], 0  # first: the global index of each batch's first sequence
    for h in hidden:
        rows = h[(-first) % step :: step]
        first += h.shape[0]
        if rows.shape[0]:
            picked.append(rows)
    return picked


def clip_tokens(x: Tensor, tokens: int) -> Tensor:
    """A fixed random `tokens` rows of `x` [tokens, in]: a seeded draw keeps the sinks at their
    share of the calibration text (a stride dividing seq_len would keep every one)."""
    if x.shape[0] <= tokens:
        return x
    return x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))[:tokens]]


def input_means(
    layer: nn.Module, hidden: list[Tensor], kwargs: dict[str, Any]
) -> dict[str, Tensor]:
    """mean|x| per input channel of each leader linear over every calibration token (a running
    sum, so all tokens count at no memory cost; AWQ's activation statistic)."""
    sums: dict[str, Tensor] = {}
    counts = dict.fromkeys(LEADERS, 0)

    def add(n: str, x: Tensor) -> None:
        a = x.float().abs().sum(0)
        sums[n] = sums[n] + a if n in sums else a
        counts[n] += x.shape[0]

    observe_inputs(layer, hidden, kwargs, LEADERS, add)
    return {n: sums[n] / counts[n] for n in LEADERS}


def awq_layer(
    layer: nn.Module, hidden: list[Tensor], kwargs: dict[str, Any], cfg: QuantizeConfig
) -> dict[str, QuantizedWeight]:
    mods = dict(layer.named_modules())
    x_mean = input_means(layer, hidden, kwargs)
    picked = whole_sequences(hidden, AWQ_SCALE_TOKENS)
    seen: dict[str, list[Tensor]] = {n: [] for n in LEADERS}
    observe_inputs(layer, picked, kwargs, LEADERS, lambda n, x: seen[n].append(x))
    xs = {n: torch.cat(v) for n, v in seen.items()}
    calls = observe_calls(layer, picked, kwargs, ("self_attn", "mlp"))
    v, o = mods["self_attn.v_proj"], mods["self_attn.o_proj"]
    # (op the scale folds into, linears scaled, block whose output scores the scale; None: the
    # linears' own outputs, as AutoAWQ does for o_proj and down_proj)
    groups: list[tuple[str, list[str], str | None]] = [
        (
            "input_layernorm",
            ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
            "self_attn",
        ),
        ("post_attention_layernorm", ["mlp.gate_proj", "mlp.up_proj"], "mlp"),
        ("mlp.up_proj", ["mlp.down_proj"], None),
    ]
    if v.out_features == o.in_features:  # without GQA v's rows map 1:1 onto o's inputs
        groups.insert(1, ("self_attn.v_proj", ["self_attn.o_proj"], None))
    with torch.no_grad():
        for prev, names, inspect in groups:
            key = leader(names[0])
            lins = [mods[n] for n in names]
            block = None
            if inspect is not None:
                block = block_output(mods[inspect], lins, calls[inspect])
            s = search_scales(
                [m.weight for m in lins],
                xs[key],
                cfg.bits,
                cfg.group_size,
                block=block,
                x_mean=x_mean[key],
            )
            p = mods[prev]
            if isinstance(p, nn.Linear):
                p.weight.div_(s[:, None])
                if p.bias is not None:
                    p.bias.div_(s)
            else:  # RMSNorm: y = weight * norm(x)
                p.weight.div_(s)
            for m in lins:
                m.weight.mul_(s[None, :])
            xs[key] = xs[key] / s
            x_mean[key] = x_mean[key] / s
        res = {}
        for n in LINEARS:
            w = mods[n].weight.detach()
            if n not in ("self_attn.q_proj", "self_attn.k_proj"):  # AWQ keeps q/k unclipped:
                x = clip_tokens(xs[leader(n)], AWQ_CLIP_TOKENS)  # they form the attention
                w = apply_clip(w, search_clip(w, x, cfg.bits, cfg.group_size), cfg.group_size)
            res[n] = rtn(w, cfg.bits, cfg.group_size)  # scores, not outputs
    return res


def fingerprint(cfg: QuantizeConfig, src: Path) -> dict[str, Any]:
    keep = (
        "method",
        "bits",
        "group_size",
        "sym",
        "act_order",
        "damp",
        "calib",
        "n_samples",
        "seq_len",
        "batch_size",
    )
    out = {"source": str(src), **{k: getattr(cfg, k) for k in keep}}
    if cfg.method == "awq":  # a resume must not mix layers searched on other token counts
        out["awq_tokens"] = [AWQ_SCALE_TOKENS, AWQ_CLIP_TOKENS]
    return out


def quantize_model(cfg: QuantizeConfig, run: Any = None) -> dict[str, Any]:
    """Quantize `cfg.model` into `cfg.out` (resuming a partial run there); return a summary."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lmforge.models.loader import resolve_model_dir

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    src = resolve_model_dir(cfg.model)
    out = Path(cfg.out)
    if (out / "config.json").is_file() and not (out / ".lmforge-quant").is_dir():
        raise LMForgeError(f"{out}: already holds a model; choose another --out or delete it")
    tokenizer = AutoTokenizer.from_pretrained(src)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
    if model.config.model_type not in SUPPORTED:
        raise LMForgeError(
            f"{src}: quantize supports {', '.join(SUPPORTED)}, not {model.config.model_type!r}"
        )
    for mod in decoder_layers(model)[0].modules():
        if isinstance(mod, nn.Linear) and mod.in_features % 32:
            raise LMForgeError(f"{src}: in_features {mod.in_features} is not a multiple of 32")
    t0 = time.perf_counter()
    state = LayerState(out, fingerprint(cfg, src))
    layers = decoder_layers(model)
    results: dict[str, QuantizedWeight] = {}
    for i in range(state.done):
        res = state.load(i, layers[i], cfg.bits)
        results.update({f"model.layers.{i}.{n}": q for n, q in res.items()})
    hidden: list[Tensor] = []
    kwargs: dict[str, Any] = {}
    if cfg.method != "rtn":
        blocks = calibration_blocks(cfg.calib, tokenizer, cfg.n_samples, cfg.seq_len)
        hidden, kwargs = capture_inputs(model, blocks, cfg.batch_size)
        if state.done:
            hidden = state.hidden()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(
            f"{cfg.method} {cfg.bits}-bit g{cfg.group_size}",
            total=len(layers),
            completed=state.done,
        )
        for i in range(state.done, len(layers)):
            layer = layers[i]
            mods = dict(layer.named_modules())
            nxt = None
            if cfg.method == "gptq":
                res = gptq_layer(layer, hidden, kwargs, cfg)
            elif cfg.method == "awq":
                nxt = run_layer(layer, hidden, kwargs)  # the float layer's output
                res = awq_layer(layer, hidden, kwargs, cfg)
            else:
                res = {n: rtn(mods[n].weight, cfg.bits, cfg.group_size, cfg.sym) for n in LINEARS}
            with torch.no_grad():
                for n, q in res.items():
                    mods[n].weight.copy_(q.dequantize())
            if hidden:
                hidden = nxt if nxt is not None else run_layer(layer, hidden, kwargs)
            state.save(i, layer, res, hidden)
            results.update({f"model.layers.{i}.{n}": q for n, q in res.items()})
            bar.advance(task)
    fmt = write_checkpoint(model, tokenizer, src, results, cfg, out)
    state.clear()
    seconds = round(time.perf_counter() - t0, 1)
    summary = {"out": str(out), "format": fmt, "layers": len(layers), "quantize_s": seconds}
    if run is not None:
        run.add_output(out, role="model")
        run.log_metrics(**summary)
    return summary
