"""`eval compare`: did run B get worse than run A, beyond noise and beyond a threshold?

Items are paired by id (only items both runs scored count), each metric's aggregate is rebuilt
from the items (so corpus BLEU stays a corpus score), and the paired bootstrap gives an interval
for B - A. A metric regresses when the change is in the bad direction by more than `threshold`
AND its whole interval is on the bad side of zero: noise alone does not fail a CI gate, and
neither does a significant but negligible drop.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.errors import LMForgeError
from lmforge.eval.config import CompareConfig
from lmforge.eval.runner import RESULTS
from lmforge.eval.scoring import aggregate_fn
from lmforge.eval.stats import paired_bootstrap
from lmforge.runs import find_run


def load_results(ref: str, runs_dir: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """(run id, results) for a run id/prefix or a run directory or a results.json path."""
    path = Path(ref)
    if path.is_dir():
        path = path / RESULTS
    if not path.is_file():
        run = find_run(ref, runs_dir)
        out = [o["path"] for o in run["outputs"] if o["path"].endswith(RESULTS)]
        if not out:
            raise LMForgeError(
                f"run {run['id']} has no {RESULTS}: is it an eval run that finished?"
            )
        path = Path(out[0])
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LMForgeError(f"{path}: cannot read eval results ({e})") from None
    return data.get("meta", {}).get("run_id", str(path.parent.name)), data


def compare(a: dict[str, Any], b: dict[str, Any], cfg: CompareConfig) -> dict[str, Any]:
    rows = []
    for task in sorted(set(a["tasks"]) & set(b["tasks"])):
        ta, tb = a["tasks"][task], b["tasks"][task]
        by_id = {it["id"]: it for it in tb["items"]}
        pairs = [(it, by_id[it["id"]]) for it in ta["items"] if it["id"] in by_id]
        if not pairs:
            continue
        for metric, kind in ta["aggregations"].items():
            if metric not in tb["aggregations"]:
                continue
            xa = np.asarray([p[0]["scores"][metric] for p in pairs], dtype=np.float64)
            xb = np.asarray([p[1]["scores"][metric] for p in pairs], dtype=np.float64)
            fn = aggregate_fn(kind)
            kw = dict(n_boot=cfg.n_bootstrap, confidence=cfg.confidence, seed=cfg.seed)
            d = paired_bootstrap(xa, xb, **kw) if fn is None else paired_bootstrap(xa, xb, fn, **kw)
            higher = cfg.higher_is_better.get(metric, True)
            bad = (
                d.delta < -cfg.threshold and d.high < 0
                if higher
                else d.delta > cfg.threshold and d.low > 0
            )
            rows.append({"task": task, "metric": metric, **d.to_dict(), "regression": bool(bad)})
    if not rows:
        raise LMForgeError("the two runs share no task with common items: nothing to compare")
    n_bad = sum(r["regression"] for r in rows)
    return {"rows": rows, "regressions": n_bad, "config": cfg.model_dump()}
