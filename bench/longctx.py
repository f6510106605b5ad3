"""Long-context benchmark: quantized KV cache, needle in a haystack, perplexity by position.

    flock /tmp/lmforge-bench.lock python bench/longctx.py [--threads 2] [--part kv,niah,ppl]

- kv: for each kv_cache_dtype (auto = fp32 here, int8, fp8): bytes per token, tokens that fit in
  a 1 GB cache, and against fp32 KV on the same 2k-token held text prefilled in 256-token chunks
  (so every chunk attends to the quantized cache): perplexity change, top-1 (greedy) agreement
  at every position, the free-running greedy continuation's agreement, and batch-1 decode tok/s
  at 2k context (1 / mean inter-token latency, prompt served from the prefix cache).
- niah: the (length x depth) grid through the engine, default RoPE up to the trained context;
  past it both default and `--scaling` (YaRN x2 by default); heat-map PNGs. `--scale-within`
  runs the scalings on the within-window lengths too (YaRN x2 interpolates the low RoPE
  frequencies by 2 at every length, so it changes in-window cells as well).
- ppl: perplexity by 1k-token bin of one long text (stdlib source) at 2x the trained context,
  default RoPE vs each scaling.

The peer here is the engine itself in fp32 KV / unscaled RoPE: the figures are ratios to it.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

from lmforge.engine import LLM, SamplingParams
from lmforge.eval.longctx import (
    NeedleResult,
    heatmap,
    long_text,
    perplexity_by_position,
    run_needles,
)

GB = 1e9


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def prompt_rows(llm: LLM, ids: list[int]) -> tuple[list[float], list[int]]:
    """Each position's log-prob of the next prompt token, and the top-1 token there."""
    out = llm.generate([ids], SamplingParams(max_tokens=1, prompt_logprobs=1, temperature=0))[0]
    lps, top = [], []
    for p, row in enumerate(out.prompt_logprobs[1:], 1):
        lps.append(row[ids[p]].logprob)
        top.append(next(t for t, lp in row.items() if lp.rank == 1))
    return lps, top


def part_kv(args: argparse.Namespace, held: list[int], res: dict) -> None:
    kinds = ("auto", "int8", "fp8")
    rows = {}
    for kind in kinds:
        llm = LLM(
            "default",
            threads=args.threads,
            kv_cache_gb=1.0,
            kv_cache_dtype=kind,
            max_num_batched_tokens=256,
        )
        eng = llm.engine
        per_token = eng.runner.token_bytes
        lps, top = prompt_rows(llm, held)
        gen = llm.generate(
            [held], SamplingParams(max_tokens=args.gen, temperature=0, ignore_eos=True)
        )
        out = gen[0]  # held is in the prefix cache now: only the decode is timed
        again = llm.generate(
            [held], SamplingParams(max_tokens=args.gen, temperature=0, ignore_eos=True)
        )
        rows[kind] = {
            "bytes_per_token": per_token,
            "tokens_in_1gb": eng.runner.num_blocks * eng.config.block_size,
            "ppl": math.exp(-sum(lps) / len(lps)),
            "top": top,
            "gen": out.token_ids,
            "decode_tps": 1 / min(out.mean_itl, again[0].mean_itl),
        }
        print(
            f"  {kind}: {rows[kind]['ppl']:.4f} ppl, {rows[kind]['decode_tps']:.1f} tok/s",
            flush=True,
        )
        del llm, eng
    ref = rows["auto"]
    print(f"\nKV dtype (2k-token held text, chunks of 256; load {load()}, threads {args.threads})")
    print(
        f"{'kv':<6}{'B/token':>9}{'tokens/GB':>11}{'x fp32':>8}{'ppl':>9}{'Δppl':>8}"
        f"{'top1 agree':>11}{'gen agree':>10}{'tok/s':>7}{'x fp32':>7}"
    )
    for kind, r in rows.items():
        agree = sum(a == b for a, b in zip(r["top"], ref["top"], strict=True)) / len(ref["top"])
        first = next(
            (i for i, (a, b) in enumerate(zip(r["gen"], ref["gen"], strict=True)) if a != b),
            len(ref["gen"]),
        )
        r.update(
            top1_agreement=agree,
            gen_prefix_agreement=first / len(ref["gen"]),
            ppl_change=r["ppl"] / ref["ppl"] - 1,
            capacity_x=r["tokens_in_1gb"] / ref["tokens_in_1gb"],
            tps_x=r["decode_tps"] / ref["decode_tps"],
        )
        print(
            f"{kind:<6}{r['bytes_per_token']:9d}{r['tokens_in_1gb']:11d}{r['capacity_x']:8.2f}"
            f"{r['ppl']:9.4f}{r['ppl_change']:+8.2%}{agree:11.2%}{r['gen_prefix_agreement']:10.0%}"
            f"{r['decode_tps']:7.1f}{r['tps_x']:7.2f}"
        )
    for r in rows.values():
        del r["top"], r["gen"]
    res["kv"] = rows


def scalings(args: argparse.Namespace) -> dict[str, dict | None]:
    out: dict[str, dict | None] = {} if args.no_default else {"default": None}
    for s in filter(None, args.scaling.split(",")):
        out[s] = {"rope_type": s, "factor": 2.0}
    return out


def model_for(rope: dict | None, trained: int, work: Path) -> str:
    """The default model, or for unscaled RoPE past the trained length a copy of its directory
    (weights linked) whose config claims 2x the context: what running a model past its trained
    length without scaling does (the engine otherwise caps max_model_len at the trained one)."""
    from lmforge.models.loader import resolve_model_dir

    src = resolve_model_dir("default")
    if rope is not None:
        return str(src)
    dst = work / f"unscaled-{2 * trained}"
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name != "config.json" and not (dst / f.name).exists():
            (dst / f.name).symlink_to(f.resolve())
    cfg = json.loads((src / "config.json").read_text())
    cfg["max_position_embeddings"] = 2 * trained
    (dst / "config.json").write_text(json.dumps(cfg, indent=1))
    return str(dst)


def engine(args: argparse.Namespace, rope: dict | None, trained: int, n: int) -> LLM:
    n = min(n, 2 * trained)  # the unscaled copy and x2 scalings both end at 2x trained
    return LLM(
        model_for(rope, trained, args.work),
        threads=args.threads,
        kv_cache_gb=2.0,
        max_num_batched_tokens=1024,
        max_model_len=n,
        rope_scaling=rope,
    )


def niah_lengths(lengths: list[int], trained: int, scaled: bool, within: bool) -> list[int]:
    """The grid lengths one RoPE runs: all for default RoPE (past `trained` it is the unscaled
    copy), only those past the trained context for a scaling unless `within` asks for all."""
    return lengths if not scaled or within else [n for n in lengths if n > trained]


def part_niah(args: argparse.Namespace, trained: int, res: dict) -> None:
    lengths = [int(x) for x in args.lengths.split(",")]
    depths = [float(x) for x in args.depths.split(",")]
    res["niah"] = {}
    for name, rope in scalings(args).items():
        mine = niah_lengths(lengths, trained, rope is not None, args.scale_within)
        if not mine:
            continue
        llm = engine(args, rope, trained, max(mine))
        t0 = time.perf_counter()

        def show(r: NeedleResult, name: str = name, t0: float = t0) -> None:
            print(
                f"  {name} {r.length:>6} @ {r.depth:.0%}: {'pass' if r.passed else 'FAIL'} "
                f"{r.answer.strip()[:24]!r} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )

        results = run_needles(llm, mine, depths, args.needles, on_item=show)
        took = time.perf_counter() - t0
        title = f"NIAH SmolLM2-135M-Instruct, RoPE {name}" + (" x2" if rope else "")
        png = heatmap(results, args.img / f"niah-{name}.png", title, trained)
        res["niah"][name] = {
            "seconds": took,
            "cells": [[r.length, r.depth, r.passed, r.answer] for r in results],
            "png": str(png),
        }
        within = [r.passed for r in results if r.length <= trained]
        beyond = [r.passed for r in results if r.length > trained]
        print(
            f"{name}: within trained {sum(within)}/{len(within)}, beyond "
            f"{sum(beyond)}/{len(beyond)}; {took:.0f} s; {png}",
            flush=True,
        )
        del llm


def part_ppl(args: argparse.Namespace, trained: int, res: dict) -> None:
    n = args.ppl_len or 2 * trained
    res["ppl"] = {}
    for name, rope in scalings(args).items():
        llm = engine(args, rope, trained, n)
        ids = long_text(llm.tokenizer, n)
        t0 = time.perf_counter()
        bins = perplexity_by_position(llm, ids, args.bin)
        res["ppl"][name] = {"bins": bins, "seconds": time.perf_counter() - t0}
        print(f"  {name}: " + " ".join(f"{b - 1}:{p:.2f}" for b, p in bins), flush=True)
        del llm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--part", default="kv,niah,ppl")
    ap.add_argument("--lengths", default="1024,2048,4096,8192,16384")
    ap.add_argument("--depths", default="0,0.25,0.5,0.75,1")
    ap.add_argument("--needles", type=int, default=1)
    ap.add_argument("--scaling", default="yarn,dynamic")
    ap.add_argument(
        "--no-default", action="store_true", help="skip unscaled RoPE (keeps locked runs short)"
    )
    ap.add_argument(
        "--scale-within", action="store_true", help="NIAH: run the scalings at <= trained too"
    )
    ap.add_argument("--bin", type=int, default=1024)
    ap.add_argument("--held", type=int, default=2048, help="tokens of the kv part's text")
    ap.add_argument("--ppl-len", type=int, default=0, help="ppl text tokens (0 = 2x trained)")
    ap.add_argument("--gen", type=int, default=64, help="greedy tokens after the 2k prompt (kv)")
    ap.add_argument("--img", type=Path, default=Path("docs/img"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/lmforge-bench-longctx"))
    args = ap.parse_args()
    print(f"threads={args.threads} loadavg={load()}", flush=True)
    args.work.mkdir(parents=True, exist_ok=True)
    out = args.work / "results.json"
    res: dict = json.loads(out.read_text()) if out.is_file() else {}
    probe = LLM("default", threads=args.threads, kv_cache_gb=0.05)
    trained = probe.engine.max_model_len
    held = long_text(probe.tokenizer, args.held, ("json.decoder", "json.encoder", "collections"))
    del probe
    parts = set(args.part.split(","))
    t0 = time.perf_counter()
    for name, part in (("kv", part_kv), ("ppl", part_ppl), ("niah", part_niah)):
        if name in parts:
            part(args, held if name == "kv" else trained, res)
            out.write_text(json.dumps(res, indent=1))  # a stopped run keeps finished parts
    res["meta"] = {
        "threads": args.threads,
        "load_after": load(),
        "seconds": time.perf_counter() - t0,
        "argv": sys.argv[1:],
    }
    out.write_text(json.dumps(res, indent=1))
    print(f"\n{time.perf_counter() - t0:.0f} s total; loadavg after {load()}; {out}")


if __name__ == "__main__":
    main()
