"""llama.cpp as an engine-bench peer: the build `bench/peers.sh` makes, GGUFs at each bit width,
batch-1 through its Python binding, batched throughput through `llama-server` with N slots.

Everything lives in lmforge's cache ($LMFORGE_CACHE, else ~/.cache/lmforge), outside the repo:
`llama.cpp-build/bin` (binaries and shared libraries), `llamacpp-py` (the binding, installed
without a second copy of llama.cpp), `llama.cpp-gguf` (F32 / Q8_0 variants of the default
model's Q4_1 GGUF). The variants are dequantized/requantized from the shipped file, so every bit
width holds the same weights lmforge converts from that file.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from engine_work import Result, Work
from lmforge.models.default import cache_root

# lmforge mode -> the llama.cpp type of the same bits. lmforge's int4 is asymmetric groups of 32
# (Q4_1's layout) with an int8 head; the shipped Q4_1 file keeps its tied embedding in Q8_0.
SAME_BITS = {"none": "F32", "int8": "Q8_0", "int4": "Q4_1"}


def build_dir() -> Path:
    return cache_root() / "llama.cpp-build" / "bin"


def binding_dir() -> Path:
    return cache_root() / "llamacpp-py"


def unavailable(model: str) -> str | None:
    """Why llama.cpp rows cannot run here (one line), or None when they can."""
    if model != "default":
        return f"llama.cpp rows need the default model's GGUF (model is {model!r})"
    for name in ("llama-server", "llama-quantize", "libllama.so"):
        if not (build_dir() / name).exists():
            return f"llama.cpp not built ({build_dir() / name} missing): run bench/peers.sh"
    if not (binding_dir() / "llama_cpp").is_dir():
        return f"llama-cpp-python binding missing in {binding_dir()}: run bench/peers.sh"
    return None


def gguf_variants(shipped: Path) -> dict[str, Path]:
    """F32, Q8_0, Q4_1 and Q4_0 GGUFs of the same weights (made once with llama-quantize from
    the F32 file, cached); Q4_1 is the shipped file itself."""
    out_dir = cache_root() / "llama.cpp-gguf"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"Q4_1": shipped}
    for qtype in ("F32", "Q8_0", "Q4_0"):
        path = out_dir / f"{shipped.stem.rsplit('.', 1)[0]}.{qtype}.gguf"
        if not path.exists():
            print(f"  llama-quantize {shipped.name} -> {path.name}", flush=True)
            tmp = path.with_suffix(".tmp")
            src = shipped if qtype == "F32" else paths["F32"]
            cmd = [str(build_dir() / "llama-quantize"), "--allow-requantize", str(src), str(tmp)]
            subprocess.run([*cmd, qtype], check=True, capture_output=True)
            tmp.replace(path)
        paths[qtype] = path
    return paths


def binding_peer(spec: dict[str, Any], work: Work, warm: Work) -> Result:
    """One request at a time through llama-cpp-python (greedy, EOS ignored: we stop at o)."""
    os.environ["LLAMA_CPP_LIB_PATH"] = str(build_dir())
    sys.path.insert(0, str(binding_dir()))
    from llama_cpp import Llama

    t = spec["threads"]
    llm = Llama(
        spec["gguf"], n_ctx=1024, n_batch=512, n_threads=t, n_threads_batch=t, verbose=False
    )

    def run(w: Work, res: Result) -> None:
        t0 = time.perf_counter()
        for p, o in w:
            start, last = time.perf_counter(), None
            for n, _ in enumerate(llm.generate(p, temp=0.0, reset=True), 1):
                now = time.perf_counter()
                if last is None:
                    res.ttft.append(now - start)
                else:
                    res.itl.append(now - last)
                last = now
                if n == o:
                    break
            res.tokens += o
        res.seconds = time.perf_counter() - t0

    run(warm, Result("warm"))
    res = Result(spec["name"], quant=spec["qtype"])
    run(work, res)
    return res


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def stream_all(url: str, work: Work, res: Result) -> None:
    """Submit every request at once; timestamp each streamed token."""
    import httpx

    async def one(client: httpx.AsyncClient, p: list[int], o: int, t0: float) -> None:
        body = {"prompt": p, "n_predict": o, "temperature": 0, "ignore_eos": True}
        body |= {"stream": True, "return_tokens": True}
        last, got = None, 0
        async with client.stream("POST", url + "/completion", json=body) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                chunk = json.loads(line[6:])
                n = len(chunk.get("tokens") or [])
                if n:
                    now = time.perf_counter()
                    if last is None:
                        res.ttft.append(now - t0)
                    else:
                        res.itl.append(now - last)
                    res.itl += [0.0] * (n - 1)  # several tokens in one chunk arrived together
                    last, got = now, got + n
        assert got == o, f"llama-server returned {got} tokens, asked {o}"
        res.tokens += got

    async with httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=1000)) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(one(c, p, o, t0) for p, o in work))
        res.seconds = time.perf_counter() - t0


def server_peer(spec: dict[str, Any], work: Work, warm: Work) -> Result:
    """`llama-server` with `slots` parallel slots (continuous batching), driven over HTTP."""
    import httpx

    slots, t, port = spec["slots"], str(spec["threads"]), free_port()
    ctx = slots * max(len(p) + o for p, o in work + warm)
    cmd = [str(build_dir() / "llama-server"), "-m", spec["gguf"], "-t", t, "-tb", t]
    cmd += ["-np", str(slots), "-c", str(ctx), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"llama-server exited ({proc.returncode}): {cmd}"
            assert time.monotonic() < deadline, "llama-server did not come up in 120 s"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        asyncio.run(stream_all(url, warm, Result("warm")))
        res = Result(spec["name"], quant=spec["qtype"])
        asyncio.run(stream_all(url, work, res))
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm = next(ln for ln in status.splitlines() if ln.startswith("VmHWM:"))
        res.peak_rss = int(hwm.split()[1]) * 1024
        return res
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_peer(spec: dict[str, Any], work: Work, warm: Work) -> Result:
    if spec["peer"] == "llama_binding":
        return binding_peer(spec, work, warm)
    assert spec["peer"] == "llama_server", spec["peer"]
    return server_peer(spec, work, warm)
