"""`lmforge eval run` end to end: config -> run directory -> backend -> tasks -> JSON + HTML."""

from pathlib import Path
from typing import Any

from lmforge.eval.backends import make_backend
from lmforge.eval.config import EvalConfig
from lmforge.eval.data import resolve_path
from lmforge.eval.progress import log_to
from lmforge.eval.report import render_results
from lmforge.eval.runner import RESULTS, headline, run_tasks
from lmforge.eval.select import Selection
from lmforge.eval.taskspec import TaskSpec, load_task
from lmforge.extras import require
from lmforge.files import atomic_write_text
from lmforge.runs import Run, start_run

REPORT = "report.html"


def resolve_tasks(cfg: EvalConfig, data: Path | None = None) -> list[TaskSpec]:
    """Load each task and apply the run-wide overrides (few-shot k, samples, data file)."""
    specs = []
    for ref in cfg.tasks:
        spec = load_task(ref)
        if cfg.num_fewshot is not None:
            spec.fewshot.k = cfg.num_fewshot
        if cfg.n_samples is not None and spec.kind == "code":
            spec.n_samples = cfg.n_samples
        if data is not None:
            spec.data.path = str(data)
            if spec.kind == "perplexity" and data.suffix not in (".jsonl", ".csv"):
                spec.data.format = "text"
                spec.data.text_field = "text"
        specs.append(spec)
    return specs


def selection(cfg: EvalConfig) -> Selection:
    return Selection(
        cfg.limit, cfg.limit_per_subject, cfg.sample, cfg.sample_seed, cfg.subject_field
    )


def write_report(results: dict[str, Any], run_id: str) -> Path:
    out = Path(results["meta"]["run_dir"]) / REPORT
    atomic_write_text(out, render_results(results, f"lmforge eval {run_id}"))
    return out


def evaluate(
    cfg: EvalConfig, runs_dir: str | Path | None = None, data: Path | None = None
) -> tuple[str, dict[str, Any]]:
    """Run the configured tasks inside a new `eval` run; return (run id, results)."""
    require("eval", "sacrebleu")
    resolve_tasks(cfg, data)  # fail on a bad task before creating a run or loading a model
    selection(cfg)
    with start_run("eval", cfg, runs_dir) as run:
        results = evaluate_in(cfg, run, data)
    return run.id, results


def evaluate_in(cfg: EvalConfig, run: Run, data: Path | None = None) -> dict[str, Any]:
    """Run the configured tasks inside `run` (shared by `lmforge eval run` and pipelines)."""
    require("eval", "sacrebleu")
    specs = resolve_tasks(cfg, data)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    for spec in specs:
        run.add_input(resolve_path(spec.data.path), role=f"data:{spec.name}")
    # Tasks that only score existing outputs (prediction_field) need no model at all.
    needs_model = any(s.prediction_field is None for s in specs)
    backend = (
        make_backend(
            cfg.backend,
            cfg.model,
            base_url=cfg.base_url,
            api_key=cfg.api_key,
            batch_size=cfg.batch_size,
            device=cfg.device,
        )
        if needs_model
        else None
    )
    meta = {"run_id": run.id, "run_dir": str(run.dir), "model": cfg.model}
    meta["backend"] = cfg.backend
    select = selection(cfg)
    with log_to(run.dir / "eval.log"):
        results = run_tasks(
            specs, backend, run.dir, None, cfg.n_bootstrap, cfg.confidence, cfg.seed, meta, select
        )
    report = write_report(results, run.id)
    run.add_output(run.dir / RESULTS, role="results")
    run.add_output(report, role="report")
    run.log_metrics(**headline(results))
    for name, task in results["tasks"].items():
        run.time(name, task["wall_s"])
    return results
