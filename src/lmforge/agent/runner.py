"""Run a task from an `agent.yaml`: route it (when the file has several agents), then run the
chosen agent with its trace in the run directory."""

from pathlib import Path
from typing import Any

from lmforge.agent.config import AgentFile
from lmforge.agent.router import Router
from lmforge.agent.runtime import Agent, AgentResult
from lmforge.agent.trace import Printer, Trace


def run_file(
    spec: AgentFile, task: str, run_dir: Path | None, printer: Printer | None, **over: Any
) -> tuple[str, AgentResult]:
    """(agent name, result). `over` replaces agent fields (e.g. batch=False from the CLI)."""
    if spec.agent is not None:
        name, cfg = "agent", spec.agent
    else:
        assert spec.router is not None
        name, why = Router(spec.router, spec.agents).pick(task)
        Trace(run_dir, printer).event("route", agent=name, why=why)
        cfg = spec.agents[name]
    cfg = cfg.model_copy(update={k: v for k, v in over.items() if v is not None})
    with Agent(cfg, printer=printer) as agent:
        return name, agent.run(task, run_dir)
