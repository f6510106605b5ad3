"""`lmforge agent run`: one task through an agent (or a router of agents) from agent.yaml."""

from pathlib import Path

import typer

from lmforge.commands.common import console

app = typer.Typer(help="Agents: tool use with least privilege and guarded tool results.")


@app.command()
def run(
    task: str = typer.Argument(..., help="The task for the agent."),
    config: Path = typer.Option(..., "--config", "-c", help="agent.yaml (see docs/agent.md)."),
    batch: bool | None = typer.Option(
        None, "--batch/--interactive", help="Deny (batch) or ask for calls that need a yes."
    ),
    runs_dir: Path | None = typer.Option(None, help="Runs root (default ./runs)."),
) -> None:
    """Run TASK; every step streams here and goes to trace.jsonl (refusals: audit.jsonl)."""
    from lmforge.agent.config import AgentFile
    from lmforge.agent.runner import run_file
    from lmforge.agent.trace import Printer
    from lmforge.config import load_config
    from lmforge.runs import start_run

    spec = load_config(AgentFile, config)
    with start_run("agent", spec, runs_dir) as r:
        r.add_input(config, "config")
        name, res = run_file(spec, task, r.dir, Printer(), batch=batch)
        r.add_output(r.dir / "trace.jsonl", "trace")
        if res.refused:
            r.add_output(r.dir / "audit.jsonl", "audit")
        r.log_metrics(
            agent=name,
            stop_reason=res.stop_reason,
            steps=res.steps,
            tokens=res.tokens,
            tool_calls=res.tool_calls,
            refused=len(res.refused),
            seconds=res.seconds,
        )
    console.print(res.answer if res.answer is not None else f"(no answer: {res.stop_reason})")
    console.print(f"[dim]run: {r.dir}[/]")
