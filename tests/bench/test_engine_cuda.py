"""`bench/engine_cuda.py` (the prepared GPU run) dry-run on the CPU over a tiny random model, so
the script a lent GPU gets has run once before it spends device minutes."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_cuda_script_parity_on_cpu(tiny_llama_dir: Path, tmp_path: Path) -> None:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "bench")])}
    cmd = [sys.executable, str(ROOT / "bench" / "engine_cuda.py"), "--config", str(tiny_llama_dir)]
    cmd += ["--out", str(tmp_path / "out"), "--device", "cpu", "--sizes", "tiny", "--skip-tests"]
    cmd += ["--prompts", "3", "--new-tokens", "6", "--bench-sections", ""]
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(res) == {"info", "model-tiny", "parity-tiny-float32", "parity-tiny-bfloat16"}
    fp32 = res["parity-tiny-float32"]
    assert fp32["identical"] == 3 and fp32["mean_common_prefix"] == 6
    assert fp32["first_token_logprob_max_diff"] < 1e-3 and fp32["mc_loglik_max_diff"] < 1e-3
    assert fp32["mc_same_argmax"]
    assert "error" not in res["parity-tiny-bfloat16"]
