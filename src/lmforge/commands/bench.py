"""`lmforge bench`: benchmarks a user runs against an installed lmforge.

`lmforge bench serve` load-tests a server. The engine benchmark is a repo script instead
(`python bench/engine.py`): its peers (llama.cpp, transformers' batch modes) are bench-only.
"""

import typer

from lmforge.commands.serve import bench_serve

app = typer.Typer(
    help="Benchmark a stage against its peers on the same work.", no_args_is_help=True
)
app.command("serve")(bench_serve)
