"""`lmforge serve` as a process: SIGTERM drains in-flight streams and exits 0."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from tests.serve.conftest import KEY


def test_sigterm_drains_and_exits_zero(tiny_llama_dir: Path, isolated_runs: Path) -> None:
    env = {**os.environ, "COLUMNS": "300", "LMFORGE_RUNS_DIR": str(isolated_runs)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lmforge.cli", "serve", "--model", str(tiny_llama_dir),
         "--port", "0", "--api-key", KEY, "--no-embeddings", "--threads", "1",
         "--kv-cache", "0.01", "--drain-timeout-s", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)/v1", line)
        assert m, line
        url = m.group(1)
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline and proc.poll() is None
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:  # bound, not yet listening
                pass
            time.sleep(0.2)
        got: list[str] = []
        body = {"model": tiny_llama_dir.name, "prompt": "hi", "max_tokens": 400,
                "ignore_eos": True, "stream": True}  # fmt: skip
        started = threading.Event()

        def stream() -> None:
            with httpx.stream("POST", url + "/v1/completions", json=body, timeout=60,
                              headers={"Authorization": f"Bearer {KEY}"}) as r:  # fmt: skip
                for ln in r.iter_lines():
                    started.set()
                    if ln:
                        got.append(ln)

        t = threading.Thread(target=stream)
        t.start()
        assert started.wait(60)
        # SIGTERM lands mid-stream: 400 forced tokens (near the tiny model's 512 context) keep
        # the stream open well past its first chunk; a stream that had already ended would
        # still pass, never fail, on a machine fast enough to finish first.
        proc.send_signal(signal.SIGTERM)
        t.join(60)
        assert got[-1] == "data: [DONE]"  # the in-flight stream finished in full
        chunks = [json.loads(x[6:]) for x in got if x.startswith("data: {")]
        assert chunks[-1]["choices"][0]["finish_reason"] == "length"
        assert proc.wait(60) == 0
        try:  # and nothing new is accepted
            code = httpx.get(url + "/health", timeout=2).status_code
            assert code == 503
        except httpx.TransportError:
            pass
        (run,) = list(isolated_runs.iterdir())
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["status"] == "succeeded" and manifest["metrics"]["generation_tokens"] >= 400
    finally:
        if proc.poll() is None:
            proc.kill()
