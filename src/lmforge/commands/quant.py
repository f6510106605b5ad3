"""`lmforge quantize` and `lmforge export gguf`: YAML config + flags of the same names."""

from pathlib import Path
from typing import Any

import typer

from lmforge.commands.common import console
from lmforge.config import StageConfig, load_config

export_app = typer.Typer(help="Export a model to other runtimes' formats.", no_args_is_help=True)
Config = typer.Option(None, "--config", "-c", help="YAML mirroring the config keys.")
RunsDir = typer.Option(None, help="Runs root (default ./runs).")


def _run(stage: str, cfg: StageConfig, runs_dir: Path | None, fn: Any) -> dict[str, Any]:
    from lmforge.runs import start_run

    with start_run(stage, cfg, runs_dir) as run:
        summary = fn(cfg, run)
    console.print(f"run {run.id}: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    return summary


def quantize(
    model: str | None = typer.Argument(None, help="'default', an HF dir or a .gguf."),
    config: Path | None = Config,
    method: str | None = typer.Option(None, help="rtn, awq or gptq."),
    bits: int | None = typer.Option(None, help="Bits per weight: 2, 3, 4 or 8."),
    group: int | None = typer.Option(None, "--group", help="Group size: 32, 64 or 128."),
    sym: bool | None = typer.Option(None, "--sym/--asym", help="Symmetric grid (GPTQ/RTN)."),
    act_order: bool | None = typer.Option(None, "--act-order/--no-act-order", help="GPTQ."),
    damp: float | None = typer.Option(None, help="GPTQ damping (fraction of mean diag H)."),
    calib: str | None = typer.Option(None, help="Calibration data: JSONL/TXT or pkg:<pkg>/<f>."),
    n_samples: int | None = typer.Option(None, help="Calibration blocks."),
    seq_len: int | None = typer.Option(None, help="Tokens per calibration block."),
    format: str | None = typer.Option(None, help="auto, awq or gptq checkpoint layout."),
    out: str | None = typer.Option(None, help="Output model directory (rerun to resume)."),
    threads: int | None = typer.Option(None, help="torch CPU threads."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Quantize a model's weights with RTN, AWQ or GPTQ into an AutoAWQ/GPTQ checkpoint."""
    flags = {k: v for k, v in locals().items() if k not in ("config", "runs_dir", "group")}
    flags["group_size"] = group
    from lmforge.quant.config import QuantizeConfig
    from lmforge.quant.quantize import quantize_model

    _run("quantize", load_config(QuantizeConfig, config, flags), runs_dir, quantize_model)


@export_app.command("gguf")
def gguf(
    model: str | None = typer.Argument(None, help="'default', an HF dir (AWQ/GPTQ too)."),
    config: Path | None = Config,
    out: str | None = typer.Option(None, help="Output .gguf file."),
    type: str | None = typer.Option(None, "--type", help="F32, F16, Q8_0 or Q4_0."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Write a Llama/Qwen2 model as a GGUF file for llama.cpp / Ollama."""
    from lmforge.quant.config import GgufExportConfig
    from lmforge.quant.gguf_export import export_gguf

    flags = {"model": model, "out": out, "type": type}
    _run("export", load_config(GgufExportConfig, config, flags), runs_dir, export_gguf)
