"""`lmforge gateway serve` as a process: answers, writes ledger.json into its run, `report` reads
it, and the upstream key from the environment appears in no file of the run."""

import json
import os
import signal
import subprocess
import sys
import time

import httpx
from tests.gateway.conftest import chat

from lmforge.serve.server import bind


def test_serve_cli_ledger_report_and_no_secret_in_run(mock, tmp_path) -> None:
    _, url = mock
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(
        json.dumps(
            {
                "backends": [
                    {
                        "name": "m",
                        "kind": "openai",
                        "url": url,
                        "api_key_env": "GW_UP_KEY",
                        "price_in": 2.0,
                    }
                ],
                "port": port,
            }
        )
    )
    runs = tmp_path / "runs"
    env = {**os.environ, "GW_UP_KEY": "sk-upstream-secret-123", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "lmforge.cli", "gateway", "serve", "-c", str(cfg)]
    proc = subprocess.Popen([*cmd, "--runs-dir", str(runs)], env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=chat())
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    (run_dir,) = runs.iterdir()
    ledger = json.loads((run_dir / "ledger.json").read_text())
    assert ledger["lines"][0]["requests"] == 1 and ledger["lines"][0]["backend"] == "m"
    for f in run_dir.rglob("*"):
        if f.is_file():
            assert "sk-upstream-secret-123" not in f.read_text(errors="replace"), f
    out = subprocess.run(
        [*cmd[:4], "report", "--runs-dir", str(runs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and run_dir.name in out.stdout
