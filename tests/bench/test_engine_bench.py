"""`bench/engine.py --quick` end to end on a tiny random model, so the harness cannot rot.

Checks the report's shape (every section's rows and ratios, llama.cpp skipped with its reason),
never a speed: figures on a shared CI box mean nothing.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "engine.py"


def test_quick_bench_runs_every_section(tiny_llama_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    cmd = [sys.executable, str(BENCH), "--quick", "--model", str(tiny_llama_dir)]
    cmd += ["--threads", "1", "--modes", "fp32", "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "llama.cpp: skipped (llama.cpp rows need the default model's GGUF" in text
    for row in ("lmforge fp32", "transformers static batch 8 sorted", "transformers continuous"):
        assert row in text, row
    fig = json.loads(out.read_text())
    assert fig["limits"]["fp32_gflops"] > 0 and fig["limits"]["bandwidth_gbs"] > 0
    assert set(fig["throughput"]) == {
        "lmforge fp32",
        "transformers static batch 8 sorted",
        "transformers continuous batching",
    }
    assert all(v > 0 for v in fig["throughput"].values())
    assert {
        "throughput_fp32_share_of_peak",
        "throughput_best_vs_hf_cb",
        "prefix_ttft_speedup",
    } <= set(fig["ratios"])
    assert set(fig["batch1_tps"]) == {"transformers generate fp32", "lmforge fp32"}
    assert fig["perplexity"]["fp32"] > 1


def test_no_hf_drops_the_transformers_peers(tiny_llama_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    cmd = [sys.executable, str(BENCH), "--quick", "--model", str(tiny_llama_dir), "--no-hf"]
    cmd += ["--threads", "1", "--modes", "fp32", "--sections", "throughput", "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "transformers" not in proc.stdout
    fig = json.loads(out.read_text())
    assert set(fig["throughput"]) == {"lmforge fp32"} and fig["throughput"]["lmforge fp32"] > 0
    assert "throughput_fp32_share_of_peak" in fig["ratios"]
    assert not any("hf" in k for k in fig["ratios"])
    # the physical ceiling: all the workload's matmul FLOPs at the fp32 peak of the same run
    assert "bound fp32:" in proc.stdout and "output tok/s" in proc.stdout
    assert fig["ratios"]["throughput_fp32_bound_tps"] > fig["throughput"]["lmforge fp32"]
