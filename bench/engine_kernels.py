"""Engine kernel benchmark: batch-1 decode per weight mode, batched throughput vs matmul peak.

    python bench/engine_kernels.py [--threads 2] [--modes none,int8,int4] [--batched 64]
                                   [--llama-bench BIN --gguf Q8_0=a.gguf,Q4_0=b.gguf]

Batch-1: one 128-token prompt, 64 greedy tokens (ignore_eos), median inter-token latency, the
modes alternated over two rounds (A B C A B C) so drift hits all alike; llama.cpp's `llama-bench
-p 0 -n 64` runs in the same rounds when given. Batched: `lmforge.engine.bench`'s workload,
output tok/s and its share of the fp32 matmul peak measured before and after. Prints the CPU
kernel probe's choice and the load average with every figure (the machine may be shared).
"""

import argparse
import json
import os
import statistics
import subprocess
import time

import torch

from engine_work import corpus_ids, machine_limits, workload  # bench/ is on sys.path
from lmforge.engine import LLM, SamplingParams
from lmforge.engine.kernels import choose as choose_gemm
from lmforge.engine.kernels.fused import huge_arena


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def itl_ms(llm: LLM, ids: list[int], n: int) -> float:
    out = llm.generate([ids], SamplingParams(max_tokens=n, temperature=0, ignore_eos=True))[0]
    return statistics.median(out.itl) * 1000


def llama_bench(binary: str, gguf: str, threads: int, n: int) -> float:
    """ms/token of llama.cpp's own decode benchmark (tg64)."""
    cmd = [binary, "-m", gguf, "-t", str(threads), "-p", "0", "-n", str(n), "-o", "json"]
    env = {**os.environ, "LD_LIBRARY_PATH": os.path.dirname(binary)}
    rows = json.loads(
        subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    )
    return 1000 / rows[0]["avg_ts"]


def read_gbs(nbytes: int) -> float:
    """Plain-read bandwidth (GB/s, best of 5 sums) over `nbytes` on huge pages, as the fused
    decode step lays out its weights: the fp32 bound is the fp32 weights' bytes over this."""
    t = huge_arena([torch.ones(nbytes // 4)])[0]
    t.sum()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        t.sum()
        best = min(best, time.perf_counter() - t0)
    return nbytes / best / 1e9


def batched(llm: LLM, n: int, params_count: int) -> str:
    work = workload(corpus_ids(llm.tokenizer), n, 0, 512, 256)
    sp = [SamplingParams(max_tokens=o, temperature=0, ignore_eos=True) for _, o in work]
    llm.generate([p[:32] for p, _ in work[:4]], SamplingParams(max_tokens=8, temperature=0))
    threads = torch.get_num_threads()
    g0 = machine_limits("cpu", threads)["fp32_gflops"]
    t = time.perf_counter()
    outs = llm.generate([p for p, _ in work], sp)
    dt = time.perf_counter() - t
    peak = (g0 + machine_limits("cpu", threads)["fp32_gflops"]) / 2
    toks = sum(len(o.token_ids) for o in outs)
    share = toks / dt * 2 * params_count / 1e9 / peak
    return (
        f"{toks / dt:7.1f} out tok/s ({toks} tok, {dt:.1f} s), {share:5.1%} of {peak:.0f} GFLOP/s"
    )


def model_params(llm: LLM) -> int:
    """Weights per token (tied embedding once), from the spec, whatever the quantization."""
    s = llm.engine.model.spec
    attn = s.hidden_size * (s.num_heads + 2 * s.num_kv_heads) * s.head_dim
    attn += s.num_heads * s.head_dim * s.hidden_size
    layer = attn + 3 * s.hidden_size * s.intermediate_size + 2 * s.hidden_size
    head = s.vocab_size * s.hidden_size * (1 if s.tie_word_embeddings else 2)
    return s.num_layers * layer + head + s.hidden_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="none,int8,int4")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--batched", type=int, default=0, help="requests in the batched run (0: skip)")
    ap.add_argument("--llama-bench", default="", help="path of llama.cpp's llama-bench binary")
    ap.add_argument("--gguf", default="", help="NAME=path,... GGUF files for llama-bench")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    modes = a.modes.split(",")
    llms = {m: LLM("default", kv_cache_gb=1.0, quantization=m, threads=a.threads) for m in modes}
    for m, llm in llms.items():
        k, rep = llm.engine.kernels, llm.engine.quant_report
        gemm = f"; GEMM {choose_gemm().name} on {rep['ours']}/{rep['quantized']}" if rep else ""
        print(f"{m}: CPU kernels {k.name} ({k.reason}){gemm}; flags {','.join(k.flags)}")
    ids = corpus_ids(llms[modes[0]].tokenizer)[1000:1128]
    peers = dict(kv.split("=", 1) for kv in a.gguf.split(",") if kv) if a.llama_bench else {}
    res: dict[str, list[float]] = {k: [] for k in [*modes, *peers]}
    for m in modes:
        itl_ms(llms[m], ids[:32], 8)  # warm-up
    for _ in range(2):
        for m in modes:
            res[m].append(itl_ms(llms[m], ids, a.tokens))
        for name, path in peers.items():
            res[name].append(llama_bench(a.llama_bench, path, a.threads, a.tokens))
    print(
        f"batch-1 decode, {len(ids)}-token prompt, {a.tokens} tokens, threads={a.threads}, "
        f"load {load()}:"
    )
    for k, v in res.items():
        rounds = ", ".join(f"{x:.1f}" for x in v)
        print(f"  {k:<6} {min(v):7.2f} ms/token ({1000 / min(v):6.1f} tok/s)  rounds {rounds}")
    if "none" in res:
        fp32 = 4 * model_params(llms["none"])
        gbs = read_gbs(fp32)
        bound = fp32 / gbs / 1e6
        print(
            f"fp32 bound: {fp32 / 1e6:.0f} MB of weights at {gbs:.1f} GB/s (plain read, huge "
            f"pages, threads={a.threads}) = {bound:.1f} ms/token; fp32 decode at "
            f"{bound / min(res['none']):.0%} of it; load {load()}"
        )
    if a.batched:
        n_params = model_params(llms[modes[0]])
        for m in modes:
            print(
                f"batched {a.batched} requests, {m}: {batched(llms[m], a.batched, n_params)}; "
                f"load {load()}"
            )


if __name__ == "__main__":
    main()
