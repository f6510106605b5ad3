"""int4 vs int8 GEMM kernels at many rows (batched decode, prefill): the default model's four
projection shapes, one process, the paths alternated per row count.

    flock /tmp/lmforge-bench.lock python bench/engine_qgemm.py [--threads 1] [--rows 8,32,256]
    flock /tmp/lmforge-bench.lock python bench/engine_qgemm.py --end-to-end 2


Per row count: the summed best-of-N time of the four projections (fused q/k/v, o, fused
gate/up, down) for the int8 kernel, int4 on the per-4-row kernel and int4 on the many-row
kernel (`kernels/qbatch.cpp`, forced either way through `ops.int4_batch_rows`), as GOP/s
(2 x rows x weights) and the int4 / int8 time ratios. Random weights of the model's shapes:
kernel time does not depend on the values. Prints the kernel choice and the load average.

`--end-to-end R`: instead, bench/engine.py's 64-request throughput workload on one int4 engine
(prefix cache off, so no run warms the next), the two int4 kernels alternated over R rounds,
thread CPU time of each `generate` (1 thread): the A/B that still means something on a shared box.
"""

import argparse
import json
import os
import time

import torch

from lmforge.engine.cpu import best_time
from lmforge.engine.kernels import choose, ops
from lmforge.engine.quant import Int4Linear, Int8Linear
from lmforge.models.loader import resolve_model_dir


def shapes(model: str) -> list[tuple[int, int]]:
    """(in, out) of the model's four projections per layer, q/k/v and gate/up fused."""
    c = json.loads((resolve_model_dir(model) / "config.json").read_text())
    h, i, heads = c["hidden_size"], c["intermediate_size"], c["num_attention_heads"]
    d = c.get("head_dim") or h // heads
    kv = c.get("num_key_value_heads") or heads
    return [(h, (heads + 2 * kv) * d), (heads * d, h), (h, 2 * i), (i, h)]


def end_to_end(model: str, rounds: int) -> None:
    """The int4 engine on the throughput workload, many-row vs per-4-row kernel, CPU time."""
    from transformers import AutoTokenizer

    from engine_work import corpus_ids, workload  # bench/ is on sys.path
    from lmforge.engine import LLM, SamplingParams

    torch.set_num_threads(1)
    model_dir = resolve_model_dir(model)
    ids = corpus_ids(AutoTokenizer.from_pretrained(model_dir))
    work = workload(ids[:-1024], 64, 0, 512, 256)  # bench/engine.py's draw
    llm = LLM(
        str(model_dir), quantization="int4", threads=1, kv_cache_gb=1.0, enable_prefix_caching=False
    )
    params = [SamplingParams(max_tokens=o, temperature=0, ignore_eos=True) for _, o in work]
    llm.generate([p for p, _ in work[:4]], params[:4])  # warm-up
    paths = {"many-row": 24, "per-4-row": 1 << 40}  # rows from which int4 takes qbatch
    cpu: dict[str, list[float]] = {k: [] for k in paths}
    for r in range(rounds):
        for name, rows in paths.items():
            with ops.int4_batch_rows(rows):
                t = time.thread_time()
                outs = llm.generate([p for p, _ in work], params)
                cpu[name].append(time.thread_time() - t)
            n = sum(len(o.token_ids) for o in outs)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"round {r} int4 {name:9s}: {cpu[name][-1]:6.2f} CPU-s, "
                f"{n / cpu[name][-1]:6.1f} out tok per CPU-s, load {load}",
                flush=True,
            )
    a, b = min(cpu["many-row"]), min(cpu["per-4-row"])
    print(f"best: many-row {a:.2f} CPU-s, per-4-row {b:.2f} CPU-s: {a / b - 1:+.1%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", default="8,16,24,32,64,256,512")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--end-to-end", type=int, default=0, metavar="ROUNDS")
    args = ap.parse_args()
    if args.end_to_end:
        return end_to_end(args.model, args.end_to_end)
    torch.set_num_threads(args.threads)
    gemm = choose()
    if gemm.isa < 2:
        raise SystemExit(f"the many-row int4 kernel needs AVX512-VNNI; kernels here: {gemm.name}")
    torch.manual_seed(0)
    layers = []
    for k, n in shapes(args.model):
        lin = torch.nn.Linear(k, n, bias=False)
        layers.append((k, Int8Linear(lin, torch.float32), Int4Linear(lin, 32, torch.float32)))
    weights = sum(k * q8.out_features for k, q8, _ in layers)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"kernels {gemm.name}, threads {args.threads}, load {load}, {weights} weights/layer")
    paths = (("int8", 1, None), ("int4 per-4-row", 2, 1 << 40), ("int4 many-row", 2, 1))
    with torch.inference_mode():
        for m in (int(r) for r in args.rows.split(",")):
            xs = [torch.randn(m, k) for k, _, _ in layers]
            t = {}
            for name, which, rows in paths:
                with ops.int4_batch_rows(rows or 1 << 40):
                    pairs = zip(layers, xs, strict=True)
                    t[name] = sum(best_time(lay[which], x, args.reps) for lay, x in pairs)
            gops = {k: 2 * m * weights / v / 1e9 for k, v in t.items()}
            cols = "  ".join(f"{k} {v * 1e3:7.3f} ms {gops[k]:4.0f} GOP/s" for k, v in t.items())
            r_old, r_new = t["int4 per-4-row"] / t["int8"], t["int4 many-row"] / t["int8"]
            print(f"rows {m:4d}  {cols}  int4/int8 per-4-row {r_old:.2f} many-row {r_new:.2f}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load at end {load}")


if __name__ == "__main__":
    main()
