"""Running tasks on a backend and writing the results into the run directory.

results.json holds, per task: the resolved spec, every item's record (prompt, outputs, gold,
scores), each metric's aggregation, the scores with bootstrap intervals and the wall-clock.
It is rewritten atomically after each task, so a crash keeps the tasks already finished.
"""

import time
from pathlib import Path
from typing import Any

from rich.progress import Progress

from lmforge.eval.backends import Backend
from lmforge.eval.data import load_items
from lmforge.eval.kinds import RUNNERS
from lmforge.eval.progress import TaskProgress, chunk_size
from lmforge.eval.prompts import PromptBuilder
from lmforge.eval.scoring import summarize
from lmforge.eval.select import Selection, select_items
from lmforge.eval.taskspec import TaskSpec
from lmforge.files import atomic_write_json

RESULTS = "results.json"


def run_task(
    spec: TaskSpec,
    backend: Backend | None,
    limit: int | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    select: Selection | None = None,
) -> dict[str, Any]:
    """Evaluate one task; the few-shot pool is the whole dataset, the items those selected
    (`select`, or the first `limit`), run in chunks with a progress line after each."""
    pool = load_items(spec.data)
    items = select_items(pool, select or Selection(limit=limit), spec.name)
    shots = PromptBuilder(spec, pool)
    if spec.fewshot.data is not None:  # a separate few-shot file (lm-eval's fewshot_split)
        shots = PromptBuilder(spec, load_items(spec.fewshot.data), own_pool=False)
    t0 = time.perf_counter()
    progress = TaskProgress(spec.name, len(items))
    records: list[dict[str, Any]] = []
    aggregations: dict[str, str] = {}
    step = chunk_size(len(items))
    for i in range(0, len(items), step):
        part, aggregations = RUNNERS[spec.kind](spec, items[i : i + step], backend, shots)
        records += part
        progress.advance(len(part))
    wall = time.perf_counter() - t0
    return {
        "task": spec.name,
        "kind": spec.kind,
        "spec": spec.model_dump(mode="json"),
        "backend": backend.name if backend is not None else "none (scored existing outputs)",
        "n": len(records),
        "wall_s": round(wall, 3),
        "aggregations": aggregations,
        "scores": summarize(records, aggregations, n_boot, confidence, seed),
        "items": records,
    }


def run_tasks(
    specs: list[TaskSpec],
    backend: Backend | None,
    out_dir: Path,
    limit: int | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    meta: dict[str, Any] | None = None,
    select: Selection | None = None,
) -> dict[str, Any]:
    """Run tasks in order, saving results.json after each so a crash keeps finished tasks."""
    results: dict[str, Any] = {"meta": meta or {}, "tasks": {}}
    with Progress(transient=True) as progress:
        bar = progress.add_task("evaluating", total=len(specs))
        for spec in specs:
            progress.update(bar, description=f"task {spec.name}")
            results["tasks"][spec.name] = run_task(
                spec, backend, limit, n_boot, confidence, seed, select
            )
            atomic_write_json(out_dir / RESULTS, results)
            progress.advance(bar)
    return results


def headline(results: dict[str, Any]) -> dict[str, float]:
    """task/metric -> score, for the run manifest and `lmforge runs list`."""
    return {
        f"{t}/{m}": round(s["value"], 4)
        for t, r in results["tasks"].items()
        for m, s in r["scores"].items()
    }
