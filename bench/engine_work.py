"""What every engine-bench peer shares: the workload, the result record, the machine's limits.

The orchestrator (`bench/engine.py`) builds the workload once and writes it to a file; each peer
runs in its own process (`bench/engine_peers.py`) and reads it from there, so all peers see the
same token ids and output lengths, and each one's peak RSS is its own.
"""

import json
import os
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Work = list[tuple[list[int], int]]  # (prompt token ids, output length) per request


@dataclass(slots=True)
class Result:
    """One peer's run. Times in seconds; TTFT always from the request's submission."""

    name: str
    tokens: int = 0
    seconds: float = 0.0
    ttft: list[float] = field(default_factory=list)
    itl: list[float] = field(default_factory=list)
    peak_rss: int = 0  # bytes, this peer's process (llama-server: the server's high-water mark)
    quant: str = ""  # the weight format the peer ran, e.g. "fp32", "int8", "Q8_0"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tps(self) -> float:
        return self.tokens / self.seconds if self.seconds else float("nan")

    @property
    def decode_tps(self) -> float:
        """Tokens per second between tokens (batch-1 decode speed, prefill excluded)."""
        return 1.0 / float(np.mean(self.itl)) if self.itl else float("nan")

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "Result":
        return cls(**json.loads(path.read_text()))


def own_peak_rss() -> int:
    """This process's peak resident set (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def pct(xs: list[float], q: float) -> float:
    """Percentile in milliseconds."""
    return float(np.percentile(xs, q)) * 1000 if xs else float("nan")


def corpus_ids(tok: Any) -> list[int]:
    """Real English text available offline: the standard library's docstrings, tokenized."""
    from lmforge.models.tiny import sample_corpus

    return tok.encode("\n\n".join(sample_corpus()), add_special_tokens=False)


def workload(ids: list[int], n: int, seed: int, max_prompt: int, max_out: int) -> Work:
    """n (prompt, output length) pairs drawn from `ids`: lengths skewed, most short, a few long."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p = int(32 + (max_prompt - 32) * rng.random() ** 3)
        o = int(16 + (max_out - 16) * rng.random() ** 3)
        start = int(rng.integers(0, len(ids) - p))
        out.append((ids[start : start + p], o))
    return out


def save_work(work: Work, path: Path) -> None:
    path.write_text(json.dumps(work))


def load_work(path: Path) -> Work:
    return [(list(p), int(o)) for p, o in json.loads(path.read_text())]


def set_threads(threads: int) -> None:
    """Pin torch (and anything that reads OMP_NUM_THREADS) to `threads` CPU threads."""
    import torch

    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)


def machine_limits(device: str, threads: int) -> dict[str, float]:
    """Matmul peak (fp32, bf16; GFLOP/s) and memory bandwidth (GB/s, read + write) measured now.

    Square matmuls large enough to reach the BLAS's best rate; a big tensor copy for bandwidth.
    On CUDA both run on the GPU, so engine figures are compared with the device they ran on.
    """
    import torch

    set_threads(threads)
    dev = torch.device(device)
    n, reps = (8192, 20) if dev.type == "cuda" else (1024, 8)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    out: dict[str, float] = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(n, n, device=dev).to(dtype)
        b = torch.randn(n, n, device=dev).to(dtype)
        a @ b
        sync()
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync()
        out[f"{name}_gflops"] = 2 * n**3 * reps / (time.perf_counter() - t) / 1e9
    src = torch.ones((2048 if dev.type == "cuda" else 256) * 2**20 // 4, device=dev)
    dst = torch.empty_like(src)
    dst.copy_(src)
    sync()
    t = time.perf_counter()
    for _ in range(5):
        dst.copy_(src)
    sync()
    out["bandwidth_gbs"] = 2 * src.numel() * 4 * 5 / (time.perf_counter() - t) / 1e9
    return out
