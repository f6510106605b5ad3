"""Engine benchmark: lmforge vs llama.cpp and transformers on the same work, in one run.

    flock /tmp/lmforge-bench.lock python bench/engine.py --threads 2 [--quick] [--device cpu]

Peers, each run in its own process (cold engine, own peak RSS), alternated, same threads, same
token ids and output lengths (greedy, EOS ignored):
- throughput (all requests submitted at once): lmforge fp32/int8/int4, llama-server with 8
  slots at F32/Q8_0/Q4_1, transformers `generate` on static batches of 8 sorted by prompt length,
  transformers' continuous batching (the manager behind `generate_batch`);
- TTFT at 16 concurrent requests: lmforge vs llama-server with 16 slots, same bits;
- batch-1 decode: lmforge fp32/int8/int4 vs the llama-cpp-python binding at F32/Q8_0/Q4_1 (and
  transformers fp32), plus each lmforge mode's perplexity on held text;
- prefix caching: requests sharing a 256-token system prompt, a fresh engine per round.
The machine's limits (fp32 and bf16 matmul peak, memory bandwidth) are measured in the same run
and every result is printed against its bound. llama.cpp comes from `bench/peers.sh`, which
the first default-model run on the CPU calls itself (~15 min once; `--no-build` skips); when it
cannot be built, or on another model than the default, its rows skip with a one-line reason.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import engine_llamacpp as lcpp
from engine_work import Result, Work, corpus_ids, machine_limits, pct, save_work, workload

HERE = Path(__file__).resolve().parent
MODES = ("none", "int8", "int4")
LABEL = {"none": "fp32", "int8": "int8", "int4": "int4"}


def parse_modes(text: str) -> list[str]:
    """'fp32,int8,int4' -> lmforge quantization values ('none', 'int8', 'int4')."""
    modes = [{"fp32": "none"}.get(m, m) for m in text.split(",")]
    assert set(modes) <= set(MODES), f"modes: use fp32, int8, int4 (got {text!r})"
    return modes


class Bench:
    """Runs peers as subprocesses over workload files in one scratch directory."""

    def __init__(self, args: argparse.Namespace, tmp: Path, model_dir: Path) -> None:
        self.args, self.tmp, self.model_dir, self.n = args, tmp, model_dir, 0
        self.modes = parse_modes(args.modes)
        self.batch_modes = parse_modes(args.batch_modes or args.modes)
        self.llama_skip = lcpp.unavailable(args.model)
        if self.llama_skip and args.model == "default" and args.device == "cpu" and args.build:
            print(f"llama.cpp: {self.llama_skip}; building it once (bench/peers.sh)", flush=True)
            env = os.environ | {"PYTHON": sys.executable}
            if subprocess.run(["bash", str(HERE / "peers.sh")], env=env).returncode == 0:
                self.llama_skip = lcpp.unavailable(args.model)
        if self.llama_skip is None and args.device != "cpu":
            self.llama_skip = "llama.cpp is built for the CPU only; its rows run with --device cpu"
        self.gguf: dict[str, Path] = {}
        if self.llama_skip is None:
            from lmforge.models.default import default_gguf_path

            self.gguf = lcpp.gguf_variants(default_gguf_path())

    def same_bits(self, mode: str) -> str:
        """The GGUF quant type llama.cpp runs against lmforge `mode` (int4: --int4-qtype)."""
        return self.args.int4_qtype if mode == "int4" else lcpp.SAME_BITS[mode]

    def work_file(self, name: str, work: Work) -> Path:
        path = self.tmp / f"{name}.json"
        save_work(work, path)
        return path

    def run(self, name: str, peer: str, work: Path, **spec: Any) -> Result | None:
        if peer.startswith("llama") and self.llama_skip:
            return None
        self.n += 1
        spec |= {"name": name, "peer": peer, "work": str(work), "warm": str(self.tmp / "warm.json")}
        spec |= {"model_dir": str(self.model_dir), "threads": self.args.threads}
        spec |= {"device": self.args.device, "out": str(self.tmp / f"r{self.n}.json")}
        if "qtype" in spec:
            spec["gguf"] = str(self.gguf[spec["qtype"]])
        path = self.tmp / f"spec{self.n}.json"
        path.write_text(json.dumps(spec))
        env = os.environ | {"OMP_NUM_THREADS": str(self.args.threads), "TQDM_DISABLE": "1"}
        t = time.perf_counter()
        what = spec.get("qtype") or LABEL[spec.get("quant", "none")]
        print(f"  [{time.strftime('%H:%M:%S')}] {name} ({what}) ...", end="", flush=True)
        rc = subprocess.run([sys.executable, str(HERE / "engine_peers.py"), str(path)], env=env)
        if rc.returncode != 0:  # one peer crashing (the binding does on Q8_0 here) is a skipped row
            print(f" died (exit {rc.returncode}): row skipped", flush=True)
            if peer.startswith("llama") or peer.startswith("hf"):
                return None
            raise RuntimeError(f"lmforge peer {name} failed (exit {rc.returncode})")
        print(f" {time.perf_counter() - t:.0f} s", flush=True)
        return Result.load(Path(spec["out"]))


def flops_per_token(model_dir: Path) -> tuple[float, float]:
    """Matmul FLOPs per token of the body (every token) and of the head (output tokens only)."""
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(model_dir)
    hd = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    h, q, kv = c.hidden_size, c.num_attention_heads * hd, c.num_key_value_heads * hd
    body = c.num_hidden_layers * (2 * h * q + 2 * h * kv + 3 * h * c.intermediate_size)
    return 2.0 * body, 2.0 * h * c.vocab_size


def row(r: Result, bound: str) -> None:
    print(
        f"  {r.name:<34} {r.quant:<5} {r.tps:7.1f} tok/s  TTFT p50/p99 {pct(r.ttft, 50):7.0f}/"
        f"{pct(r.ttft, 99):7.0f} ms  ITL p50/p99 {pct(r.itl, 50):6.1f}/{pct(r.itl, 99):6.1f} ms"
        f"  RSS {r.peak_rss / 2**30:4.2f} GiB  {bound}"
    )


def throughput(b: Bench, work: Work, limits: dict[str, float], out: dict[str, Any]) -> None:
    body, head = flops_per_token(b.model_dir)
    flops = body * sum(len(p) + o for p, o in work) + head * sum(o for _, o in work)
    path, slots = b.work_file("throughput", work), 8
    order: list[tuple[str, str, dict[str, Any]]] = []
    for mode in b.batch_modes:  # lmforge and llama.cpp alternate, bit width by bit width
        qt = b.same_bits(mode)
        order.append((f"lmforge {LABEL[mode]}", "lmforge", {"quant": mode}))
        order.append((f"llama-server {slots} slots", "llama_server", {"qtype": qt, "slots": slots}))
    hf = [("transformers static batch 8 sorted", "hf_static", {"batch": 8})]
    hf.append(("transformers continuous batching", "hf_cb", {}))
    if b.args.hf:
        order.insert(2, hf[0])  # the transformers peers sit between the bit widths
        order.insert(min(5, len(order)), hf[1])
    print(f"\nthroughput: {len(work)} requests at once, {flops / 1e12:.2f} TFLOP of matmuls")
    res = {
        " ".join((name, s.get("qtype", ""))).strip(): b.run(name, peer, path, **s)
        for name, peer, s in order
    }
    ratios = out["ratios"]
    for key, r in res.items():
        if r is None:
            continue
        peak = "fp32" if r.quant in ("fp32", "F32") else "bf16"
        share = flops / r.seconds / 1e9 / limits[f"{peak}_gflops"]
        row(r, f"{share:5.1%} of {peak} matmul peak")
        out["throughput"][key] = r.tps
        if key.startswith("lmforge"):
            ratios[f"throughput_{r.quant}_share_of_peak"] = share
    if b.llama_skip:
        print(f"  llama.cpp: skipped ({b.llama_skip})")
    lm = {m: res[f"lmforge {LABEL[m]}"] for m in b.batch_modes}
    for m in b.batch_modes:
        cpp = res[f"llama-server {slots} slots {b.same_bits(m)}"]
        if cpp is not None:
            ratios[f"throughput_{LABEL[m]}_vs_llama_server"] = lm[m].tps / cpp.tps
        bound(m, work, flops, limits, cpp, out)
    best = max(b.batch_modes, key=lambda m: lm[m].tps)
    if b.args.hf:
        hf_static = res["transformers static batch 8 sorted"]
        ratios["throughput_best_vs_hf_static"] = lm[best].tps / hf_static.tps
        ratios["throughput_best_vs_hf_cb"] = (
            lm[best].tps / res["transformers continuous batching"].tps
        )
    for k, v in ratios.items():
        if k.startswith("throughput") and "share" not in k and "bound" not in k:
            print(f"  {k}: {v:.2f}x")
    print(f"  (best lmforge mode: {LABEL[best]}; targets: >= 2x llama-server, >= 40% of peak)")


def bound(m: str, work: Work, flops: float, limits: dict, cpp: Result | None, out: dict) -> None:
    """The physical ceiling of a mode on this workload: all its matmul FLOPs at the dense matmul
    peak measured in this run (fp32 for fp32; bf16 for int8/int4, whose many-row path is a bf16
    matmul), so the most output tok/s any engine doing these FLOPs could reach here, and whether
    2x llama-server fits under it. Attention, norms and the rest only lower the real ceiling."""
    peak = limits["fp32_gflops" if m == "none" else "bf16_gflops"]
    n_out = sum(o for _, o in work)
    best = n_out / (flops / (peak * 1e9))
    out["ratios"][f"throughput_{LABEL[m]}_bound_tps"] = best
    line = f"  bound {LABEL[m]}: {flops / 1e12:.2f} TFLOP at {peak:.1f} GFLOP/s = "
    line += f"{flops / (peak * 1e9):.1f} s -> at most {best:.1f} output tok/s"
    if cpp is not None:
        need = 2 * cpp.tps
        verdict = "reachable" if need <= best else "NOT reachable on this machine"
        line += f"; 2x llama-server {cpp.quant} = {need:.1f} tok/s = {need / best:.0%} of it"
        line += f": {verdict}"
    print(line)


def ttft16(b: Bench, work: Work, out: dict[str, Any]) -> None:
    path = b.work_file("ttft16", work)
    n = len(work)
    print(f"\nTTFT, {n} concurrent requests (outputs <= {max(o for _, o in work)} tokens):")
    for mode in b.batch_modes:
        lm = b.run(f"lmforge {LABEL[mode]}", "lmforge", path, quant=mode)
        qt = b.same_bits(mode)
        cpp = b.run(f"llama-server {n} slots", "llama_server", path, qtype=qt, slots=n)
        for r in (lm, cpp):
            if r is not None:
                row(r, "")
        if cpp is not None:
            out["ratios"][f"ttft16_p50_{LABEL[mode]}_llama_over_lmforge"] = pct(cpp.ttft, 50) / pct(
                lm.ttft, 50
            )
    for k, v in out["ratios"].items():
        if k.startswith("ttft16"):
            print(f"  {k}: {v:.2f}x (target >= 1: lmforge no slower)")


def batch1(b: Bench, one: Work, held: list[int], limits: dict[str, float], out: dict) -> None:
    path, rounds = b.work_file("batch1", one), 1 if b.args.quick else 2
    dec: dict[str, list[float]] = {}
    runs: dict[str, Result] = {}
    for rnd in range(rounds):  # A B A B: every peer once per round, the same order each round
        plan = [("transformers generate", "hf_static", {"batch": 1})]
        for mode in b.modes:
            plan.append(("lmforge", "lmforge", {"quant": mode, "kv_cache_gb": 0.2}))
            if rnd == 0:
                plan[-1][2]["held"] = held
            plan.append(("llama-cpp-python", "llama_binding", {"qtype": b.same_bits(mode)}))
        for name, peer, spec in plan:
            r = b.run(name, peer, path, **spec)
            if r is not None:
                key = f"{name} {r.quant}"
                dec.setdefault(key, []).append(r.decode_tps)
                runs.setdefault(key, r)
    print(f"\nbatch-1 decode ({len(one[0][0])}-token prompt, {one[0][1]} tokens, {rounds} rounds):")
    med = {k: statistics.median(v) for k, v in dec.items()}
    for k, v in med.items():
        r = runs[k]
        wb = r.extra.get("weight_bytes")
        if wb is None and r.quant in b.gguf:
            wb = b.gguf[r.quant].stat().st_size
        bw = f"{v * wb / 1e9 / limits['bandwidth_gbs']:5.1%} of bandwidth" if wb else ""
        ppl = f"ppl {r.extra['perplexity']:.3f}" if "perplexity" in r.extra else ""
        print(f"  {k:<30} {v:7.1f} tok/s  TTFT {pct(r.ttft, 50):6.0f} ms  {bw}  {ppl}")
        out["batch1_tps"][k] = v
        if "perplexity" in r.extra:
            out["perplexity"][r.quant] = r.extra["perplexity"]
        if k == "lmforge fp32" and wb:
            out["ratios"]["batch1_fp32_share_of_bandwidth"] = v * wb / 1e9 / limits["bandwidth_gbs"]
    for m in b.modes:
        cpp = med.get(f"llama-cpp-python {b.same_bits(m)}")
        if cpp:
            out["ratios"][f"batch1_{LABEL[m]}_vs_llama"] = med[f"lmforge {LABEL[m]}"] / cpp
    lm = {m: med[f"lmforge {LABEL[m]}"] for m in b.modes}
    if "int8" in lm and "none" in lm:
        out["ratios"]["batch1_int8_vs_fp32"] = lm["int8"] / lm["none"]
    if "int8" in lm and "int4" in lm:
        out["ratios"]["batch1_int4_vs_int8"] = lm["int4"] / lm["int8"]
    for k, v in out["ratios"].items():
        if k.startswith("batch1"):
            print(f"  {k}: {v:.2f}{'' if 'share' in k else 'x'}")
    print("  (targets: >= 1x llama.cpp at the same bits; int4 > int8 > fp32; fp32 >= 70% of bw)")


def prefix(b: Bench, shared: Work, out: dict[str, Any]) -> None:
    path, rounds = b.work_file("prefix", shared), 1 if b.args.quick else 2
    ttft: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for on in (False, True):  # a fresh engine per round: no round reuses another's cache
            name = f"lmforge prefix caching {'on' if on else 'off'}"
            r = b.run(name, "lmforge", path, prefix_caching=on)
            ttft[on].append(statistics.mean(r.ttft))
    off, on = statistics.mean(ttft[False]), statistics.mean(ttft[True])
    out["ratios"]["prefix_ttft_speedup"] = off / on
    print(
        f"\nprefix caching, {len(shared)} requests sharing a 256-token system prompt: mean TTFT "
        f"{off * 1000:.0f} ms off, {on * 1000:.0f} ms on = {off / on:.2f}x (target >= 2x)"
    )


SECTIONS = ("throughput", "ttft", "batch1", "prefix")
# Issue 24's sections live in their own scripts; `--sections ...,lora,spec` runs them here too.
OPTIONAL = ("lora", "spec")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="'default' or a local HF directory")
    ap.add_argument("--quick", action="store_true", help="16 short requests, one round")
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--modes", default="fp32,int8,int4", help="lmforge weight modes to run")
    ap.add_argument(
        "--batch-modes",
        default=None,
        help="modes of the throughput/TTFT sections (default --modes)",
    )
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma list of " + "/".join(SECTIONS + OPTIONAL),
    )
    ap.add_argument(
        "--no-build", dest="build", action="store_false", help="skip llama.cpp if not yet built"
    )
    ap.add_argument(
        "--no-hf", dest="hf", action="store_false", help="throughput without transformers peers"
    )
    ap.add_argument(
        "--int4-qtype",
        choices=("Q4_1", "Q4_0"),
        default="Q4_1",
        help="llama.cpp's peer of lmforge int4: Q4_1 (same asymmetric groups) or Q4_0",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write every figure as JSON here")
    args = ap.parse_args(argv)
    sections = args.sections.split(",")
    unknown = set(sections) - set(SECTIONS + OPTIONAL)
    assert not unknown, f"--sections: unknown {unknown}"
    from transformers import AutoTokenizer

    from lmforge.models.loader import resolve_model_dir

    model_dir = resolve_model_dir(args.model)
    tok = AutoTokenizer.from_pretrained(model_dir)
    print(
        f"threads={args.threads} cpus={os.cpu_count()} device={args.device} "
        f"load={' '.join(f'{x:.2f}' for x in os.getloadavg())} model={model_dir.name}"
    )
    limits = machine_limits(args.device, args.threads)
    print(
        f"machine: matmul fp32 {limits['fp32_gflops']:.1f} / bf16 {limits['bf16_gflops']:.1f} "
        f"GFLOP/s, memory bandwidth {limits['bandwidth_gbs']:.1f} GB/s"
    )
    ids = corpus_ids(tok)
    body, held, system = ids[:-1024], ids[-1024:-256], ids[-256:]  # workloads draw from body
    n, max_p, max_o = (16, 128, 32) if args.quick else (args.requests, 512, 256)
    work = workload(body, n, args.seed, max_p, max_o)
    out: dict[str, Any] = {"limits": limits, "threads": args.threads, "load": os.getloadavg()}
    out |= {"ratios": {}, "throughput": {}, "batch1_tps": {}, "perplexity": {}}
    plens, olens = [len(p) for p, _ in work], [o for _, o in work]
    print(
        f"workload: {n} requests, prompts {min(plens)}-{max(plens)} tokens ({sum(plens)}), outputs "
        f"{min(olens)}-{max(olens)} ({sum(olens)}); greedy, EOS ignored"
    )
    with tempfile.TemporaryDirectory(prefix="lmforge-bench-") as tmp:
        b = Bench(args, Path(tmp), model_dir)
        b.work_file("warm", [(held[:48], 8), (held[48:160], 8)])  # text no request is drawn from
        print(f"llama.cpp: {b.llama_skip or 'GGUF ' + ', '.join(b.gguf)} (lmforge fp32/int8/int4)")
        if "throughput" in sections:
            throughput(b, work, limits, out)
        if "ttft" in sections:
            ttft16(b, [(p, min(o, 32)) for p, o in work[:16]], out)
        if "batch1" in sections:
            one = [(held[256 : 256 + (64 if args.quick else 128)], 32 if args.quick else 128)]
            batch1(b, one, held[:512], limits, out)
        if "prefix" in sections:
            sys_work = workload(body, 16 if args.quick else 32, args.seed + 2, 64, 16)
            prefix(b, [(system + p[:32], 16) for p, _ in sys_work], out)
    extra = ["--threads", str(args.threads)] + (["--quick"] if args.quick else [])
    if "lora" in sections:
        import engine_lora

        out["lora"] = engine_lora.main(extra)
    if "spec" in sections:
        import engine_spec

        out["spec"] = engine_spec.main(extra)
    print(f"\nload at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
