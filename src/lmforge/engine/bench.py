"""Benchmark lmforge's engine against transformers on the same workload, in one run.

Peers: (1) transformers `generate`, one request at a time; (2) transformers static batches of 8
with left padding; (3) lmforge; (4) llama-cpp-python one at a time, when installed. Also: the
machine's measured limits (fp32 matmul GFLOP/s, memory bandwidth) and each result's share of
its bound, batch-1 inter-token latency (fp32 / int8 / int4), perplexity of each quantization on
held text, and prefix caching's effect on TTFT with a shared 256-token system prompt.

    lmforge bench engine [--quick]    # or: python bench/engine.py [--quick]

Lives in the package (not only bench/) so that the installed CLI can run it.
"""

import argparse
import gc
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil
import torch

from lmforge.engine import LLM, SamplingParams
from lmforge.engine.attention import AttnMeta, PrefillSpan
from lmforge.extras import is_available


@dataclass(slots=True)
class Result:
    name: str
    tokens: int
    seconds: float
    ttft: list[float] = field(default_factory=list)
    itl: list[float] = field(default_factory=list)
    peak_rss: int = 0

    @property
    def tps(self) -> float:
        return self.tokens / self.seconds


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) * 1000 if xs else float("nan")


class PeakRSS:
    """Samples this process's RSS in a thread; `peak` is the max seen while active."""

    def __enter__(self) -> "PeakRSS":
        self.peak, self._stop = 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


# ---- machine limits --------------------------------------------------------------------------
def matmul_gflops(n: int = 1024, reps: int = 8) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def bandwidth_gbs(mb: int = 256, reps: int = 5) -> float:
    src = torch.ones(mb * 2**20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    t = time.perf_counter()
    for _ in range(reps):
        dst.copy_(src)
    return 2 * src.numel() * 4 * reps / (time.perf_counter() - t) / 1e9  # read + write


# ---- workload ---------------------------------------------------------------------------------
def corpus_ids(tok: Any) -> list[int]:
    """Real English text available offline: the standard library's docstrings, tokenized."""
    from lmforge.models.tiny import sample_corpus

    return tok.encode("\n\n".join(sample_corpus()), add_special_tokens=False)


def workload(
    tok: Any, n: int, seed: int, max_prompt: int, max_out: int
) -> list[tuple[list[int], int]]:
    """n (prompt ids, output length) pairs: lengths skewed (most short, a few long)."""
    ids = corpus_ids(tok)[:-1024]  # the last 1024 tokens: held text and system prompt
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p = int(32 + (max_prompt - 32) * rng.random() ** 3)
        o = int(16 + (max_out - 16) * rng.random() ** 3)
        start = int(rng.integers(0, len(ids) - p))
        out.append((ids[start : start + p], o))
    return out


class StepClock:
    """A transformers LogitsProcessor that timestamps every decoding step (one token per row)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self.times.append(time.perf_counter())
        return scores


def hf_run(model: Any, tok: Any, work: list[tuple[list[int], int]], batch: int) -> Result:
    from transformers import LogitsProcessorList

    res = Result(f"transformers batch={batch}", sum(o for _, o in work), 0.0)
    t0 = time.perf_counter()
    for i in range(0, len(work), batch):
        chunk = work[i : i + batch]
        width = max(len(p) for p, _ in chunk)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        ids = torch.tensor([[pad] * (width - len(p)) + p for p, _ in chunk])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p, _ in chunk])
        new = max(o for _, o in chunk)
        clock = StepClock()
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                pad_token_id=pad,
                logits_processor=LogitsProcessorList([clock]),
            )
        for _, o in chunk:
            res.ttft.append(clock.times[0] - start)
            res.itl += [b - a for a, b in zip(clock.times[: o - 1], clock.times[1:o], strict=True)]
    res.seconds = time.perf_counter() - t0
    return res


def lmforge_run(llm: LLM, work: list[tuple[list[int], int]], name: str = "lmforge") -> Result:
    params = [SamplingParams(max_tokens=o, temperature=0, ignore_eos=True) for _, o in work]
    t0 = time.perf_counter()
    outs = llm.generate([p for p, _ in work], params)
    res = Result(name, sum(len(o.token_ids) for o in outs), time.perf_counter() - t0)
    for o in outs:
        res.ttft.append(o.ttft or 0.0)
        res.itl += o.itl
    return res


def llamacpp_run(work: list[tuple[list[int], int]]) -> Result | None:
    if not is_available("llama_cpp"):
        return None
    from llama_cpp import Llama

    from lmforge.models.default import default_gguf_path

    llm = Llama(
        str(default_gguf_path()), n_ctx=1024, verbose=False, n_threads=torch.get_num_threads()
    )
    res = Result("llama-cpp-python batch=1 (Q4_1 GGUF)", 0, 0.0)
    t0 = time.perf_counter()
    for p, o in work:
        start, last = time.perf_counter(), None
        for _ in llm.create_completion(p, max_tokens=o, temperature=0, stream=True):
            now = time.perf_counter()
            if last is None:
                res.ttft.append(now - start)
            else:
                res.itl.append(now - last)
            last = now
            res.tokens += 1
    res.seconds = time.perf_counter() - t0
    return res


def perplexity(llm: LLM, ids: list[int]) -> float:
    """Perplexity of `ids` under the engine's model (a single prefill over a scratch cache)."""
    m = llm.engine.model
    s, n, bs = m.spec, len(ids), 16
    nb = -(-n // bs)
    kv = [
        (
            torch.zeros(nb, bs, s.num_kv_heads, s.head_dim),
            torch.zeros(nb, bs, s.num_kv_heads, s.head_dim),
        )
        for _ in range(s.num_layers)
    ]
    meta = AttnMeta(torch.arange(n), [], [PrefillSpan(0, n, 0, torch.arange(nb))])
    with torch.inference_mode():
        logits = m.logits(m(torch.tensor(ids), torch.arange(n), meta, kv))
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:]))
    return float(nll.exp())


def report(r: Result, bound: str) -> None:
    print(
        f"  {r.name:<38} {r.tps:7.1f} tok/s  TTFT p50/p99 {pct(r.ttft, 50):7.0f}/"
        f"{pct(r.ttft, 99):7.0f} ms  ITL p50/p99 {pct(r.itl, 50):6.1f}/{pct(r.itl, 99):6.1f} ms  "
        f"peak RSS {r.peak_rss / 2**30:4.2f} GiB  {bound}"
    )


def measured(fn: Callable[[], Result | None]) -> Result | None:
    gc.collect()
    with PeakRSS() as rss:
        r = fn()
    if r is not None:
        r.peak_rss = rss.peak
    return r


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="16 requests, shorter lengths")
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument(
        "--single-requests",
        type=int,
        default=16,
        help="requests run by the one-at-a-time peer (a prefix of the workload)",
    )
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> dict[str, float]:
    """The whole benchmark; prints a report and returns the headline ratios."""
    if args.threads:
        torch.set_num_threads(args.threads)
    n, max_p, max_o = (16, 256, 64) if args.quick else (args.requests, 512, 256)
    n_single = min(n, 4 if args.quick else args.single_requests)
    print(
        f"threads={torch.get_num_threads()} cpus={psutil.cpu_count()} "
        f"load={psutil.getloadavg()[0]:.1f}"
    )
    gflops, gbs = matmul_gflops(), bandwidth_gbs()
    print(f"machine: fp32 matmul {gflops:.1f} GFLOP/s, memory bandwidth {gbs:.1f} GB/s")

    from transformers import AutoModelForCausalLM

    llm = LLM("default", kv_cache_gb=1.0, max_num_batched_tokens=512)
    tok = llm.tokenizer
    hf = AutoModelForCausalLM.from_pretrained(llm.engine.path, dtype=torch.float32).eval()
    wbytes, params = llm.engine.weight_bytes, sum(p.numel() for p in hf.parameters())
    work = workload(tok, n, args.seed, max_p, max_o)
    plens, olens = [len(p) for p, _ in work], [o for _, o in work]
    print(
        f"workload: {n} requests, prompts {min(plens)}-{max(plens)} tokens, outputs "
        f"{min(olens)}-{max(olens)} (greedy, fixed lengths)"
    )

    def bound(r: Result, batch1: bool) -> str:
        if batch1:  # each token reads every weight once
            return f"{r.tps * wbytes / 1e9 / gbs:5.1%} of bandwidth"
        return f"{r.tps * 2 * params / 1e9 / gflops:5.1%} of matmul peak"

    # Throughput: peers alternate (lmforge, batch-8, lmforge, single) so drift hits all alike.
    # Each peer first runs a short warm-up (first-use allocations and kernel setup measured
    # ~25% of a cold lmforge pass here), so no peer pays it inside its timed run.
    single_work = work[:n_single]
    warm = [(p[:32], 8) for p, _ in work[:4]]
    lmforge_run(llm, warm)
    hf_run(hf, tok, warm, 4)
    r_lm = measured(lambda: lmforge_run(llm, work))
    r_b8 = measured(lambda: hf_run(hf, tok, work, 8))
    r_lm_s = measured(lambda: lmforge_run(llm, single_work, "lmforge (single-peer subset)"))
    r_b1 = measured(lambda: hf_run(hf, tok, single_work, 1))
    r_cpp = measured(lambda: llamacpp_run(single_work))
    print(f"\nthroughput ({n} requests; the one-at-a-time peers run the first {n_single}):")
    for r, b1 in ((r_lm, False), (r_b8, False), (r_lm_s, False), (r_b1, True), (r_cpp, True)):
        if r is not None:
            report(r, bound(r, b1))
    if r_cpp is None:
        print("  llama-cpp-python: not installed, skipped")
    ratios = {
        "vs_single": r_lm_s.tps / r_b1.tps,
        "vs_single_full": r_lm.tps / r_b1.tps,
        "vs_batch8": r_lm.tps / r_b8.tps,
    }
    # The ceiling: every prompt and output token must pass the body's weights, every output
    # token the head, at no more than the matmul peak measured above (attention ignored, so
    # this bound is generous). No scheduler can beat it; the 10x target needs ceiling >= 10.
    head = hf.get_output_embeddings().weight.numel()
    flops = 2 * (params - head) * (sum(plens) + sum(olens)) + 2 * head * sum(olens)
    ratios["ceiling_vs_single"] = sum(olens) / (flops / (gflops * 1e9)) / r_b1.tps
    print(
        f"  lmforge / transformers one-at-a-time: {ratios['vs_single']:.2f}x on the same "
        f"{n_single} requests, {ratios['vs_single_full']:.2f}x with lmforge on all {n} "
        "(target >= 10x)"
    )
    print(
        f"  compute ceiling on this machine ({flops / 1e12:.2f} TFLOP of weights at "
        f"{gflops:.0f} GFLOP/s): {ratios['ceiling_vs_single']:.1f}x one-at-a-time"
    )
    print(f"  lmforge / transformers batches of 8:  {ratios['vs_batch8']:.2f}x (target >= 2x)")

    # Batch-1 decode latency: one request, alternating peers, two rounds.
    one = [(work[0][0][:128] if len(work[0][0]) >= 128 else work[0][0], 48 if args.quick else 96)]
    q8 = LLM("default", kv_cache_gb=0.2, quantization="int8")
    q4 = LLM("default", kv_cache_gb=0.2, quantization="int4", int4_group_size=32)
    lat: dict[str, list[float]] = {k: [] for k in ("transformers", "fp32", "int8", "int4")}
    for _ in range(2):
        lat["transformers"] += hf_run(hf, tok, one, 1).itl
        for name, m in (("fp32", llm), ("int8", q8), ("int4", q4)):
            lat[name] += lmforge_run(m, one).itl
    print("\nbatch-1 decode, inter-token latency p50 (ms):")
    med = {k: statistics.median(v) * 1000 for k, v in lat.items()}
    for k, v in med.items():
        print(f"  {k:<14} {v:7.2f} ms")
    ratios["itl_vs_transformers"] = med["transformers"] / med["fp32"]
    ratios["int8_speedup"], ratios["int4_speedup"] = (
        med["fp32"] / med["int8"],
        med["fp32"] / med["int4"],
    )
    print(
        f"  lmforge fp32 vs transformers: {ratios['itl_vs_transformers']:.2f}x faster "
        "(target >= 1x)"
    )
    print(
        f"  int8 vs fp32: {ratios['int8_speedup']:.2f}x (target >= 1.3x); int4 vs fp32: "
        f"{ratios['int4_speedup']:.2f}x"
    )

    # Perplexity on held text (the stdlib's docstrings: not what the model was tuned on).
    held = corpus_ids(tok)[-1024:-256]  # 768 tokens no workload prompt is drawn from
    ppl = {name: perplexity(m, held) for name, m in (("fp32", llm), ("int8", q8), ("int4", q4))}
    mem = {
        name: m.engine.weight_bytes / 2**20
        for name, m in (("fp32", llm), ("int8", q8), ("int4", q4))
    }
    print(f"\nquantization on {len(held)} held tokens:")
    for name in ppl:
        print(
            f"  {name}: weights {mem[name]:6.1f} MiB, perplexity {ppl[name]:.3f} "
            f"({ppl[name] / ppl['fp32'] - 1:+.2%})"
        )
    ratios["int8_ppl_change"] = ppl["int8"] / ppl["fp32"] - 1
    ratios["int4_ppl_change"] = ppl["int4"] / ppl["fp32"] - 1
    del q8, q4

    # Prefix caching: requests sharing a 256-token system prompt, on vs off, alternating.
    n_pc = 16 if args.quick else 64
    system = corpus_ids(tok)[-256:]  # real text, away from where the workloads sample
    shared = [(system + p[:32], 16) for p, _ in workload(tok, n_pc, args.seed + 2, 64, 16)]
    off = LLM("default", kv_cache_gb=1.0, enable_prefix_caching=False)
    ttft = {"on": [], "off": []}
    for name, m in (("off", off), ("on", llm), ("off", off), ("on", llm)):
        ttft[name].append(statistics.mean(lmforge_run(m, shared).ttft))
    ratios["prefix_ttft_speedup"] = statistics.mean(ttft["off"]) / statistics.mean(ttft["on"])
    print(
        f"\nprefix caching, {n_pc} requests sharing a 256-token system prompt: mean TTFT "
        f"{statistics.mean(ttft['off']) * 1000:.0f} ms off, "
        f"{statistics.mean(ttft['on']) * 1000:.0f} ms on "
        f"= {ratios['prefix_ttft_speedup']:.2f}x (target >= 2x)"
    )
    return ratios


if __name__ == "__main__":
    main()
