"""`lmforge runs list|show`."""

import json
from pathlib import Path

import typer
from rich.table import Table

from lmforge.commands.common import console
from lmforge.runs import find_run, list_runs

app = typer.Typer(
    help="List and inspect run directories and their manifests.", no_args_is_help=True
)
RunsDir = typer.Option(None, "--runs-dir", help="Runs root (default $LMFORGE_RUNS_DIR or ./runs).")

STATUS_STYLE = {"succeeded": "green", "failed": "red", "running": "yellow"}


@app.command("list")
def list_cmd(runs_dir: Path | None = RunsDir) -> None:
    """One line per run: id, stage, status, start time, duration, headline metrics."""
    runs = list_runs(runs_dir)
    if not runs:
        console.print("no runs yet")
        return
    table = Table(title="runs")
    for col in ("id", "stage", "status", "started", "seconds", "metrics"):
        table.add_column(col)
    for r in runs:
        style = STATUS_STYLE.get(r["status"], "")
        metrics = ", ".join(f"{k}={v}" for k, v in list(r.get("metrics", {}).items())[:3])
        table.add_row(
            r["id"],
            r["stage"],
            f"[{style}]{r['status']}[/]",
            r["started_at"],
            str(r["timings"].get("total_s", "")),
            metrics,
        )
    console.print(table)


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="A run id, or an unambiguous prefix/suffix."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """The full manifest of one run."""
    console.print_json(json.dumps(find_run(run_id, runs_dir)))
