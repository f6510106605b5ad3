"""The `lmforge` command: one Typer app; each subcommand is a thin call into a stage."""

import logging
import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from lmforge import __version__
from lmforge.commands import (
    adapters,
    agent,
    bench,
    data,
    eval,
    gateway,
    guard,
    models,
    quant,
    rag,
    runs,
    serve,
    train,
)
from lmforge.commands import run as run_cmd
from lmforge.commands.common import console, err_console
from lmforge.commands.console import console_cmd
from lmforge.config import QuickstartConfig, load_config
from lmforge.errors import LMForgeError

app = typer.Typer(
    name="lmforge",
    help="One toolkit for the life of a language model: data, train, rag, eval, serve, bench, run.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models.app, name="models")
app.add_typer(runs.app, name="runs")
app.add_typer(bench.app, name="bench")
app.add_typer(data.app, name="data")
app.add_typer(eval.app, name="eval")
app.add_typer(rag.app, name="rag")
app.add_typer(guard.app, name="guard")
app.add_typer(serve.app, name="serve")
app.add_typer(adapters.app, name="adapters")
app.add_typer(gateway.app, name="gateway")
app.add_typer(agent.app, name="agent")
app.add_typer(train.app, name="train")
app.add_typer(quant.export_app, name="export")

app.command("run")(run_cmd.run)
app.command("console")(console_cmd)
app.command("quantize")(quant.quantize)


def _version(value: bool) -> None:
    if value:
        console.print(f"lmforge {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """lmforge: curate -> train -> retrieve -> evaluate -> serve, with one config style."""


@app.command()
def doctor() -> None:
    """Check Python, torch, CPU/CUDA, extras, offline assets and disk; say how to fix each."""
    from lmforge.doctor import run_checks

    checks = run_checks()
    table = Table(title="lmforge doctor")
    for col in ("check", "status", "detail", "fix"):
        table.add_column(col)
    style = {"ok": "green", "warn": "yellow", "fail": "red"}
    for c in checks:
        table.add_row(
            escape(c.name), f"[{style[c.status]}]{c.status}[/]", escape(c.detail), escape(c.fix)
        )
    console.print(table)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


@app.command()
def quickstart(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML mirroring the flags."),
    pipeline: Path | None = typer.Option(
        None, help="Pipeline to run instead of the embedded quickstart.yaml."
    ),
    from_stage: str | None = typer.Option(None, "--from", help="Re-run from this stage."),
    prompt: str | None = typer.Option(None, help="The question put to the tuned model at the end."),
    max_new_tokens: int | None = typer.Option(None, help="Tokens to generate at most."),
    threads: int | None = typer.Option(None, help="torch CPU threads (default: all cores)."),
    runs_dir: Path | None = typer.Option(None, help="Runs root (default ./runs)."),
) -> None:
    """Curate, fine-tune, index, evaluate, benchmark on the defaults; then chat with the result."""
    import os
    import time

    from lmforge.pipeline.quickstart import chat_once, highlights, quickstart_pipeline, tuned_model
    from lmforge.runs import start_run

    t0, load0 = time.perf_counter(), os.getloadavg()

    cfg = load_config(
        QuickstartConfig,
        config,
        {
            "pipeline": pipeline,
            "from_stage": from_stage,
            "prompt": prompt,
            "max_new_tokens": max_new_tokens,
            "threads": threads,
        },
    )
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    prun, results = run_cmd.run_and_report(quickstart_pipeline(cfg), cfg.from_stage, runs_dir)
    with start_run("quickstart", cfg, runs_dir) as run:
        run.add_input(prun.dir / "manifest.json", role="pipeline")
        result = chat_once(cfg, tuned_model(results), run)
        wall, load1 = time.perf_counter() - t0, os.getloadavg()
        run.log_metrics(wall_s=round(wall, 1), loadavg_start=load0, loadavg_end=load1)
    hi = highlights(results)
    if hi["sentence"]:
        console.print(f"[bold]what improved:[/] {escape(hi['sentence'])}")
    for d in hi["demo"]:
        console.print(f"[bold]served tuned model[/] ({d['seconds']} s): {escape(d['answer'])}")
    for a in hi["answers"]:
        console.print(f"[bold]rag:[/] {escape(a['question'])} -> {escape(a['answer'])}")
        for s in a["sources"]:
            used = "*" if s["n"] in a["citations"] else " "
            console.print(f"  {used}[{s['n']}] {escape(' > '.join(s['headings']) or s['source'])}")
    console.print(f"[bold]user:[/] {escape(cfg.prompt)}")
    console.print(f"[bold]tuned model:[/] {escape(result['answer'])}")
    console.print(
        f"{result['new_tokens']} tokens in {result['generate_s']} s = "
        f"[bold]{result['tokens_per_s']} tokens/s[/] ({result['threads']} threads)"
    )
    console.print(f"[bold]report:[/] {prun.dir / 'report.html'}")
    console.print(
        f"wall time {wall:.0f} s; load average {load0[0]:.1f} at start, {load1[0]:.1f} at the "
        f"end ({os.cpu_count()} cores)"
    )


def main() -> None:
    """Entry point: user errors print one line and exit 2; bugs keep their traceback."""
    # bitsandbytes (imported by peft/transformers) warns on every CPU start that an optional
    # kernels-community package is missing; that is not the user's problem, so keep it quiet.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        app()
    except LMForgeError as e:
        err_console.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
