"""Evaluation as a pipeline kind: one model on the configured tasks, scores with intervals."""

from pathlib import Path
from typing import Any

from lmforge.runs import Run


def eval_fill(inputs: dict[str, Path]) -> dict[str, Any]:
    return {"model": str(inputs["model"])} if "model" in inputs else {}


def run_eval(cfg: Any, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    """`lmforge eval run` inside the stage's run; logs `scores` in the report's shape."""
    from lmforge.eval.evaluate import evaluate_in
    from lmforge.eval.runner import RESULTS

    results = evaluate_in(cfg, run, inputs.get("data"))
    scores = {
        f"{task}/{metric}": {k: s[k] for k in ("value", "low", "high")}
        for task, r in results["tasks"].items()
        for metric, s in r["scores"].items()
    }
    run.log_metrics(scores=scores)
    return {"results": run.dir / RESULTS, "report": run.dir / "report.html"}
