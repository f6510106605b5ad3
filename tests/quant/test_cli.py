"""`lmforge quantize` and `lmforge export gguf` end to end: run dirs, outputs, one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

from gguf import GGUFReader
from typer.testing import CliRunner

from lmforge.cli import app

runner = CliRunner()


def test_quantize_then_export(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    out, runs = tmp_path / "q", tmp_path / "runs"
    args = ["quantize", str(tiny_qwen2_dir), "--method", "gptq", "--bits", "4", "--group", "32"]
    args += ["--n-samples", "8", "--seq-len", "32", "--out", str(out), "--runs-dir", str(runs)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads((out / "config.json").read_text())["quantization_config"]["bits"] == 4
    manifest = json.loads(next(runs.glob("quantize-*/manifest.json")).read_text())
    assert manifest["status"] == "succeeded" and manifest["config"]["method"] == "gptq"
    gguf = tmp_path / "m.gguf"
    res = runner.invoke(
        app,
        ["export", "gguf", str(out), "--out", str(gguf), "--type", "F16", "--runs-dir", str(runs)],
    )
    assert res.exit_code == 0, res.output
    r = GGUFReader(gguf)
    assert r.fields["general.architecture"].contents() == "qwen2"
    assert "blk.0.attn_q.bias" in {t.name for t in r.tensors}  # Qwen2's q/k/v bias
    assert "output.weight" in {t.name for t in r.tensors}  # untied head


def test_bad_flag_is_one_line(tmp_path: Path) -> None:
    code = "from lmforge.cli import main; main()"
    args = ["quantize", "default", "--method", "awq", "--bits", "3", "--format", "awq"]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args, "--out", str(tmp_path / "q")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "format awq is 4-bit only" in proc.stderr and "use format gptq" in proc.stderr
