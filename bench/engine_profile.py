"""Where a batched run's time goes: `torch.profiler` over bench/engine.py's throughput workload.

    flock /tmp/lmforge-bench.lock python bench/engine_profile.py --threads 1 --quant int4 \
        [--requests 16] [--max-tokens 24] [--top 15]

The throughput target (>= 40% of the matmul peak) is a statement about how much of a step is
matmul; this prints the top ops by self CPU time, and the share of the matmul ops (aten::mm /
addmm / linear and the own int8/int4 kernels, which run inside Python-level calls, so they show
as the time not covered by any aten op) against the rest (norms, RoPE, KV write/gather, SDPA,
SiLU, residuals, Python). One warm-up generate first, so start-up is not profiled. Outputs are
capped (`--max-tokens`): the profiler keeps every event, and the full 64-request run grew past
5 GB RSS in its aggregation.

`--split` (1 thread): no profiler; the thread CPU time of each call of the quantized linears,
the paged attention (and its prefill part), RMSNorm, RoPE, the forward and the LM head, summed
over the run. The profiler's per-event cost inflates small ops (it put RMSNorm at 20% of aten
time on the int4 run where the timed calls give 1.2% of the run), so shares come from this.
"""

import argparse
import collections
import os
import time
from collections.abc import Callable
from typing import Any

from torch.profiler import ProfilerActivity, profile

from engine_work import corpus_ids, set_threads, workload  # bench/ is on sys.path
from lmforge.engine import LLM, SamplingParams

MATMUL = ("aten::mm", "aten::addmm", "aten::bmm", "aten::_weight_int8pack_mm")


def timed(totals: dict[str, float], key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn, adding the thread CPU time of each call to totals[key] (no re-entry here)."""

    def call(*a: Any, **k: Any) -> Any:
        t = time.thread_time()
        try:
            return fn(*a, **k)
        finally:
            totals[key] += time.thread_time() - t

    return call


def split(llm: LLM, prompts: list[list[int]], params: list[SamplingParams]) -> None:
    """Thread CPU time per part of the forward over one generate (see the module doc)."""
    from lmforge.engine import attention, llama, quant

    totals: dict[str, float] = collections.defaultdict(float)
    parts = [
        (quant.Int8Linear, "forward", "int8 linears (the LM head in int4 mode)"),
        (quant.Int4Linear, "forward", "int4 linears"),
        (attention, "_prefills", "prefill attention (SDPA)"),
        (llama, "paged_attention", "paged attention, all"),
        (llama.RMSNorm, "forward", "RMSNorm"),
        (llama, "rotate", "RoPE"),
        (llama.LlamaForCausalLM, "forward", "model forward"),
        (llama.LlamaForCausalLM, "logits", "final norm + LM head"),
    ]
    for owner, name, key in parts:
        setattr(owner, name, timed(totals, key, getattr(owner, name)))
    t0 = time.thread_time()
    outs = llm.generate(prompts, params)
    total = time.thread_time() - t0
    n_out = sum(len(o.token_ids) for o in outs)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{len(prompts)} requests, {n_out} output tokens, {total:.2f} thread CPU-s, load {load}")
    for key, v in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {key:42s} {v:7.2f} s {100 * v / total:5.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quant", default="none", choices=("none", "int8", "int4"))
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", action="store_true", help="timed calls instead of the profiler")
    ap.add_argument("--kv-cache-gb", type=float, default=0.25)
    args = ap.parse_args()
    if args.split and args.threads != 1:
        raise SystemExit("--split times the calling thread: use --threads 1")
    set_threads(args.threads)
    from transformers import AutoTokenizer

    from lmforge.models.loader import resolve_model_dir

    model_dir = resolve_model_dir("default")
    ids = corpus_ids(AutoTokenizer.from_pretrained(model_dir))
    work = workload(ids[:-1024], args.requests, args.seed, 512, 256)  # bench/engine.py's draw
    llm = LLM(
        str(model_dir), quantization=args.quant, threads=args.threads, kv_cache_gb=args.kv_cache_gb
    )
    params = [
        SamplingParams(max_tokens=min(o, args.max_tokens), temperature=0, ignore_eos=True)
        for _, o in work
    ]
    llm.generate([p for p, _ in work[:4]], params[:4])  # warm-up
    if args.split:
        return split(llm, [p for p, _ in work], params)
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        outs = llm.generate([p for p, _ in work], params)
    wall = time.perf_counter() - t0
    n_out = sum(len(o.token_ids) for o in outs)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    mm = sum(e.self_cpu_time_total for e in events if e.key in MATMUL) / 1e6
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"quant={args.quant} threads={args.threads} load={load}: {len(work)} requests, "
        f"{n_out} output tokens in {wall:.1f} s ({n_out / wall:.1f} tok/s, profiled)"
    )
    print(f"aten self time {total:.1f} s of {wall:.1f} s wall; dense matmul ops {mm:.1f} s")
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.top, max_name_column_width=40))


if __name__ == "__main__":
    main()
