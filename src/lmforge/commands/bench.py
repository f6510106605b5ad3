"""`lmforge bench`: one subcommand per stage that benchmarks it against its peers."""

import argparse
from pathlib import Path

import typer

from lmforge.commands.common import console

app = typer.Typer(
    help="Benchmark a stage against its peers on the same work.", no_args_is_help=True
)


@app.command("engine")
def engine(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML mirroring the flags."),
    quick: bool | None = typer.Option(None, "--quick/--full", help="Small smoke workload."),
    requests: int | None = typer.Option(None, help="Requests in the throughput workload."),
    single_requests: int | None = typer.Option(None, help="Requests of the one-at-a-time peers."),
    threads: int | None = typer.Option(None, help="torch CPU threads (default: all cores)."),
    seed: int | None = typer.Option(None, help="Workload seed."),
    runs_dir: Path | None = typer.Option(None, help="Runs root (default ./runs)."),
) -> None:
    """lmforge's engine vs transformers (one-at-a-time, batches of 8) and llama-cpp-python."""
    from lmforge.config import load_config
    from lmforge.engine.bench import run
    from lmforge.engine.config import EngineBenchConfig
    from lmforge.runs import start_run

    cfg = load_config(
        EngineBenchConfig,
        config,
        {
            "quick": quick,
            "requests": requests,
            "single_requests": single_requests,
            "threads": threads,
            "seed": seed,
        },
    )
    with start_run("bench", cfg, runs_dir) as r:
        ratios = run(argparse.Namespace(**cfg.model_dump()))
        r.log_metrics(**{k: round(v, 4) for k, v in ratios.items()})
    console.print(f"run {r.id}: metrics in its manifest")


from lmforge.commands.serve import bench_serve  # noqa: E402

app.command("serve")(bench_serve)
