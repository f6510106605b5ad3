"""`lmforge run pipeline.yaml` and the summary both it and `lmforge quickstart` print."""

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from lmforge.commands.common import console


def headline(metrics: dict[str, Any]) -> str:
    """The few numbers worth a glance from a stage's metrics."""
    scores = metrics.get("scores") or {}
    parts = [f"{k}={v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]" for k, v in scores.items()]
    if not scores:  # an eval's flat numbers repeat its scores; other stages show theirs
        for key, value in metrics.items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    for bench, methods in (metrics.get("retrieval") or {}).items():
        parts += [f"{bench} {m} ndcg@10={row['ndcg@10']:.3f}" for m, row in methods.items()]
    for lv in metrics.get("levels") or []:
        parts.append(f"c={lv['concurrency']}: {lv['tok_per_s']:.1f} tok/s")
    return ", ".join(parts[:6])


def run_and_report(pipeline: Path, from_stage: str | None, runs_dir: Path | None) -> Any:
    """Run a pipeline with a line per stage as it finishes; print the summary table."""
    from lmforge.pipeline.runner import run_pipeline

    def on_stage(r: Any) -> None:
        console.print(
            f"[green]✓[/] {r.name} ({r.kind}) {r.status} in {r.seconds:.1f} s: {r.run_id}"
        )

    with console.status(f"running {pipeline.name}..."):
        prun, results = run_pipeline(pipeline, from_stage, runs_dir, on_stage)
    table = Table(title=f"pipeline {prun.manifest['config']['name']}: {prun.id}")
    for col in ("stage", "kind", "status", "seconds", "headline"):
        table.add_column(col)
    for r in results:
        table.add_row(r.name, r.kind, r.status, f"{r.seconds:.1f}", escape(headline(r.metrics)))
    console.print(table)
    console.print(f"report: {prun.dir / 'report.html'}")
    return prun, results


def run(
    pipeline: Path = typer.Argument(..., help="Pipeline YAML (see examples/pipeline/)."),
    from_stage: str | None = typer.Option(
        None, "--from", help="Re-run this stage and every later one even if unchanged."
    ),
    runs_dir: Path | None = typer.Option(None, help="Runs root (default ./runs)."),
) -> None:
    """Run stages in order through run manifests; unchanged stages reuse their earlier runs."""
    run_and_report(pipeline, from_stage, runs_dir)
