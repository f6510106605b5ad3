"""Multi-LoRA benchmark: 8 adapters mixed in one run vs the base model alone, and hot-load time.

    flock /tmp/lmforge-bench.lock python bench/engine_lora.py --threads 2 [--quick]

Same engine, same 64 requests (prompts from the stdlib corpus, skewed lengths, greedy, EOS
ignored), run alternately with no adapter and with 8 adapters assigned round-robin (every step
mixes them). The adapters are random PEFT LoRAs (rank 16, alpha 32, all seven projections:
`lmforge train`'s defaults for Llama) with nonzero B, made with PEFT over the default SmolLM2;
their speed does not depend on what they learned. Hot-load is `load_adapter` of a fresh
directory (read, check, fuse), median of 5. Targets (issue 24): mixed >= 0.8x base tok/s,
hot-load <= 1 s.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from engine_work import corpus_ids, workload


def run(engine: Any, work: list, adapters: list[str | None]) -> float:
    """Aggregate output tok/s of all requests submitted at once."""
    from lmforge.engine import SamplingParams

    t0 = time.perf_counter()
    for i, (ids, n) in enumerate(work):
        a = adapters[i % len(adapters)]
        engine.add_request(
            ids, SamplingParams(max_tokens=n, temperature=0, ignore_eos=True, adapter=a)
        )
    toks = 0
    while engine.has_unfinished():
        toks += sum(len(o.delta_token_ids) for o in engine.step())
    return toks / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--adapters", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="16 requests, 1 round")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.rounds = 16, 1
    from lmforge.engine import LLMEngine
    from lmforge.models.loader import resolve_model_dir
    from lmforge.models.tiny import make_random_adapter

    base_dir = resolve_model_dir("default")
    engine = LLMEngine(model="default", threads=args.threads, kv_cache_gb=1.0, max_num_seqs=64)
    work = workload(corpus_ids(engine.tokenizer), args.requests, 0, 256, 128)
    with tempfile.TemporaryDirectory() as tmp:
        names = [f"a{i}" for i in range(args.adapters)]
        t0 = time.perf_counter()
        for i, n in enumerate(names):
            make_random_adapter(base_dir, Path(tmp) / n, seed=i, r=16, b_scale=1.0)
        print(f"made {len(names)} random adapters with PEFT in {time.perf_counter() - t0:.1f} s")
        loads = []
        for n in names[:5]:
            t = time.perf_counter()
            engine.load_adapter(n, str(Path(tmp) / n))
            loads.append(time.perf_counter() - t)
        for n in names[5:]:
            engine.load_adapter(n, str(Path(tmp) / n))
        base, mixed = [], []
        for r in range(args.rounds):
            base.append(run(engine, work, [None]))
            mixed.append(run(engine, work, names))
            print(f"round {r}: base {base[-1]:.1f} tok/s, {len(names)} adapters {mixed[-1]:.1f}")
    b, m, load = max(base), max(mixed), statistics.median(loads)
    load_avg = os.getloadavg()[0]
    print(f"\nmulti-LoRA ({args.requests} requests, {args.threads} threads, load {load_avg:.2f})")
    print(f"  base          {b:8.1f} tok/s")
    print(f"  {len(names)} adapters    {m:8.1f} tok/s  = {m / b:.2f}x base (target >= 0.80x)")
    print(f"  hot-load      {load * 1000:8.1f} ms median (target <= 1000 ms)")
    return {"base_tok_s": b, "mixed_tok_s": m, "ratio": m / b, "hot_load_s": load}


if __name__ == "__main__":
    main()
