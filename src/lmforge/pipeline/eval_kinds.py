"""Evaluation as pipeline kinds: one model on the configured tasks (scores with intervals), and
the paired gain of a tuned model over its base on the same held-out items."""

from pathlib import Path
from typing import Any

from pydantic import Field

from lmforge.config import StageConfig
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


class GainConfig(StageConfig):
    """Tuned (`tuned` input) minus base (`base` input) on the held-out items both scored."""

    what: str = Field(
        "score",
        description="What the metric counts, for the report's sentence, e.g. 'pages "
        "labelled correctly'.",
    )
    n_bootstrap: int = Field(2000, ge=10)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0


def sentence(what: str, row: dict[str, Any], confidence: float) -> str:
    """One sentence a reader takes away: what changed, by how much, and whether noise explains
    it (the paired-bootstrap interval of the difference includes 0 or not)."""
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    signif = (
        "the interval excludes 0"
        if row["low"] > 0 or row["high"] < 0
        else "the interval includes 0, so this may be noise"
    )
    return (
        f"{what}: {pct(row['a'])} for the base model, {pct(row['b'])} after fine-tuning, on "
        f"{row['n']} held-out items ({100 * row['delta']:+.1f} points, {confidence:.0%} paired "
        f"bootstrap CI [{100 * row['low']:+.1f}, {100 * row['high']:+.1f}]; {signif})."
    )


def gain(cfg: GainConfig, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    """`lmforge eval compare` between two eval stages; logs `comparison` rows and `sentence`."""
    import json

    from lmforge.eval.compare import compare, load_results
    from lmforge.eval.config import CompareConfig
    from lmforge.files import atomic_write_text

    _, a = load_results(str(inputs["base"]))
    _, b = load_results(str(inputs["tuned"]))
    ccfg = CompareConfig(
        run_a=str(inputs["base"]),
        run_b=str(inputs["tuned"]),
        n_bootstrap=cfg.n_bootstrap,
        confidence=cfg.confidence,
        seed=cfg.seed,
    )
    out = compare(a, b, ccfg)
    rows = out["rows"]
    run.log_metrics(comparison=rows, sentence=sentence(cfg.what, rows[0], cfg.confidence))
    return {"comparison": atomic_write_text(run.dir / "comparison.json", json.dumps(out, indent=2))}
