"""One engine-bench peer run, in its own process: `python bench/engine_peers.py SPEC.json`.

A fresh process per run means a cold engine (no prefix cache or allocator state carried over
from another peer's work), and `ru_maxrss` is that peer's own peak RSS. The spec names the peer,
the workload file, threads and device; the result is written as JSON next to it.

Timing rules, the same for every peer: every request of a run is submitted at its start, TTFT
is from that submission to the request's first output token, ITL the gaps between its later
tokens. Each peer first runs a short warm-up on text no request is drawn from (first-use
allocations and kernel setup are then not timed, and no prefix cache is warmed by the workload).
"""

import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from engine_work import Result, Work, load_work, own_peak_rss, set_threads

KV_CACHE_GB = 1.0  # lmforge's KV cache in the throughput runs; transformers' CB gets the same


def lmforge_peer(spec: dict[str, Any], work: Work, warm: Work) -> Result:
    from lmforge.engine import LLM, SamplingParams

    quant = spec.get("quant", "none")
    llm = LLM(
        spec["model_dir"],
        device=spec["device"],
        kv_cache_gb=spec.get("kv_cache_gb", KV_CACHE_GB),
        quantization=quant,
        enable_prefix_caching=spec.get("prefix_caching", True),
        threads=spec["threads"],
    )

    def run(w: Work) -> tuple[list[Any], float]:
        params = [SamplingParams(max_tokens=o, temperature=0, ignore_eos=True) for _, o in w]
        t0 = time.perf_counter()
        outs = llm.generate([p for p, _ in w], params)  # all requests arrive now
        return outs, time.perf_counter() - t0

    run(warm)
    outs, seconds = run(work)
    res = Result(spec["name"], sum(len(o.token_ids) for o in outs), seconds, quant=quant)
    dtype = str(llm.engine.model.embed_tokens.weight.dtype).removeprefix("torch.")
    res.quant = (
        {"float32": "fp32", "bfloat16": "bf16"}.get(dtype, dtype) if quant == "none" else quant
    )
    for o in outs:
        res.ttft.append(o.ttft)
        res.itl += o.itl
    res.extra["weight_bytes"] = llm.engine.weight_bytes
    if spec.get("held"):
        res.extra["perplexity"] = perplexity(llm, spec["held"])
    return res


def perplexity(llm: Any, ids: list[int]) -> float:
    """Perplexity of `ids` under the engine's (possibly quantized) model: one scratch prefill."""
    from lmforge.engine.attention import AttnMeta, PrefillSpan

    m = llm.engine.model
    dev = llm.engine.device
    s, n, bs = m.spec, len(ids), 16
    nb = -(-n // bs)
    shape, dt = (nb, bs, s.num_kv_heads, s.head_dim), m.embed_tokens.weight.dtype
    kv = [
        (torch.zeros(shape, device=dev, dtype=dt), torch.zeros(shape, device=dev, dtype=dt))
        for _ in range(s.num_layers)
    ]
    pos = torch.arange(n, device=dev)
    meta = AttnMeta(pos, [], [PrefillSpan(0, n, 0, torch.arange(nb, device=dev))])
    with torch.inference_mode():
        logits = m.logits(m(torch.tensor(ids, device=dev), pos, meta, kv)).float()
    target = torch.tensor(ids[1:], device=dev)
    return float(torch.nn.functional.cross_entropy(logits[:-1], target).exp())


def hf_model(spec: dict[str, Any]) -> Any:
    from transformers import AutoModelForCausalLM

    # The dtype lmforge runs at on that device (device.py's `auto`): fp32 on CPU, bf16 on CUDA.
    dtype = torch.bfloat16 if spec["device"] == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(spec["model_dir"], dtype=dtype)
    return model.to(spec["device"]).eval()


class StepClock:
    """A transformers LogitsProcessor that timestamps every decoding step (one token per row)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self.times.append(time.perf_counter())
        return scores


def hf_static(model: Any, work: Work, batch: int, res: Result) -> None:
    """`generate` on static batches, sorted by prompt length so a batch pads little."""
    from transformers import LogitsProcessorList

    pad = model.generation_config.pad_token_id or 0
    order = sorted(range(len(work)), key=lambda i: len(work[i][0]))
    t0 = time.perf_counter()
    for i in range(0, len(order), batch):
        chunk = [work[j] for j in order[i : i + batch]]
        width = max(len(p) for p, _ in chunk)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p, _ in chunk])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p, _ in chunk])
        new = max(o for _, o in chunk)
        clock = StepClock()
        with torch.inference_mode():
            model.generate(
                input_ids=ids.to(model.device),
                attention_mask=mask.to(model.device),
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                pad_token_id=pad,
                logits_processor=LogitsProcessorList([clock]),
            )
        for _, o in chunk:
            res.ttft.append(clock.times[0] - t0)
            res.itl += [b - a for a, b in zip(clock.times[: o - 1], clock.times[1:o], strict=True)]
            res.tokens += o
    res.seconds = time.perf_counter() - t0


def hf_continuous(model: Any, work: Work, res: Result) -> None:
    """transformers' own continuous batching (the manager behind `generate_batch`), with each
    request's own output length (generate_batch takes one for all) and EOS disabled."""
    from transformers import ContinuousBatchingConfig, GenerationConfig
    from transformers.generation.continuous_batching.utils import WorkloadHints

    cfg = GenerationConfig(do_sample=False, max_new_tokens=max(o for _, o in work))
    cfg.eos_token_id = -1
    hints = WorkloadHints(max(len(p) for p, _ in work), cfg.max_new_tokens, len(work))
    # Its defaults size the cache from free memory (13 GB on this box, OOM); give it lmforge's
    # budget instead: the same KV bytes and the same tokens per step.
    c = model.config
    hd = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    per_token = 2 * c.num_hidden_layers * c.num_key_value_heads * hd * model.dtype.itemsize
    pages = max(4, int(KV_CACHE_GB * 1e9 / per_token / 256))
    cb = ContinuousBatchingConfig(num_blocks=pages, max_batch_tokens=512)
    with model.continuous_batching_context_manager(
        generation_config=cfg,
        continuous_batching_config=cb,
        workload_hints=hints,
        block=True,
        timeout=30,
    ) as manager:
        t0 = time.perf_counter()
        ids = [
            manager.add_request(p, max_new_tokens=o, record_timestamps=True, eos_token_id=-1)
            for p, o in work
        ]
        done: dict[str, Any] = {}
        while len(done) < len(ids):
            out = manager.get_result(timeout=1)
            if out is not None and out.is_finished():
                assert out.error is None, out.error
                done[out.request_id] = out
            elif out is None and not manager.is_running():
                raise RuntimeError("transformers continuous batching stopped early")
        res.seconds = time.perf_counter() - t0
    for rid in ids:
        ts = done[rid].timestamps
        res.tokens += len(done[rid].generated_tokens)
        res.ttft.append(ts[0] - t0)
        res.itl += [b - a for a, b in itertools.pairwise(ts)]


def hf_peer(spec: dict[str, Any], work: Work, warm: Work) -> Result:
    model = hf_model(spec)
    res = Result(spec["name"], quant="bf16" if spec["device"] == "cuda" else "fp32")
    if spec["peer"] == "hf_cb":
        hf_continuous(model, warm, Result("warm"))
        hf_continuous(model, work, res)
    else:
        hf_static(model, warm, spec["batch"], Result("warm"))
        hf_static(model, work, spec["batch"], res)
    return res


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    set_threads(spec["threads"])
    work, warm = load_work(Path(spec["work"])), load_work(Path(spec["warm"]))
    if spec["peer"] == "lmforge":
        res = lmforge_peer(spec, work, warm)
    elif spec["peer"] in ("hf_static", "hf_cb"):
        res = hf_peer(spec, work, warm)
    else:
        import engine_llamacpp

        res = engine_llamacpp.run_peer(spec, work, warm)
    res.peak_rss = max(res.peak_rss, own_peak_rss())
    res.save(Path(spec["out"]))


if __name__ == "__main__":
    main(sys.argv[1])
