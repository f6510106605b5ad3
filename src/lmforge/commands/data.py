"""`lmforge data run pipeline.yaml`: curate a corpus, print per-step counts, record the run."""

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from lmforge.commands.common import console

app = typer.Typer(
    help="Curate corpora: clean, filter, deduplicate and format.", no_args_is_help=True
)


def stats_table(stats: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="data pipeline: per-step counts")
    for col in ("step", "in", "kept", "dropped (by reason)", "MB in", "MB out", "seconds"):
        table.add_column(col, justify="left" if col.startswith(("step", "dropped")) else "right")
    for name, st in stats.items():
        dropped = ", ".join(f"{r}={n}" for r, n in sorted(st["dropped"].items())) or "-"
        table.add_row(
            name,
            str(st["in"]),
            str(st["kept"]),
            dropped,
            f"{st['bytes_in'] / 1e6:.2f}",
            f"{st['bytes_out'] / 1e6:.2f}",
            f"{st['seconds']:.2f}",
        )
    return table


@app.command()
def run(
    config: Path = typer.Argument(..., help="Pipeline YAML (see examples/data/)."),
    output_dir: str | None = typer.Option(None, "--output-dir", help="Overrides output.dir."),
    executor: str | None = typer.Option(None, help="Overrides executor.kind: local or ray."),
    workers: int | None = typer.Option(None, help="Overrides executor.workers."),
    runs_dir: Path | None = typer.Option(None, help="Runs root (default ./runs)."),
) -> None:
    """Run a pipeline; rerunning the same config resumes, skipping finished shards."""
    from lmforge.config import load_config
    from lmforge.data.config import DataConfig
    from lmforge.data.executors import run_in
    from lmforge.runs import start_run

    cfg = load_config(
        DataConfig,
        config,
        {"output.dir": output_dir, "executor.kind": executor, "executor.workers": workers},
    )
    with start_run("data", cfg, runs_dir) as r:
        r.add_input(config, role="config")
        pipe, stats, _ = run_in(cfg, r)
    console.print(stats_table(stats))
    console.print(f"wrote {pipe.out}; run {r.id}")
