"""What the console's run pages show, read from the run manifests (lmforge.runs).

The console's browser code draws everything itself from these JSON shapes; nothing here
renders HTML. A run's lineage is the graph of runs linked by artifacts: an input recorded with
`produced_by` is an edge from the producing run, and a pipeline run links to its stage runs.
"""

import json
from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.runs import MANIFEST, list_runs, load_manifest

LINEAGE_DEPTH = 8  # ancestors followed at most; deeper chains are cut, not an error


def _seconds(m: dict[str, Any]) -> float | None:
    t = m.get("timings", {}).get("total_s")
    return round(t, 2) if isinstance(t, int | float) else None


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """A few key figures per run: eval scores, comparison deltas, data counts, losses."""
    out: dict[str, Any] = {}
    for key, s in (metrics.get("scores") or {}).items():
        out[key] = round(s["value"], 4)
    for row in metrics.get("comparison") or []:
        out[f"Δ {row['task']}/{row['metric']}"] = round(row["delta"], 4)
    for key in ("documents_in", "documents_out", "train_loss", "eval_loss", "train", "heldout"):
        if isinstance(metrics.get(key), int | float):
            out[key] = metrics[key]
    if metrics.get("levels"):
        best = max(lv["tok_per_s"] for lv in metrics["levels"])
        out["peak tok/s"] = round(best, 1)
    return dict(list(out.items())[:4])


def summary(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": m["id"],
        "stage": m["stage"],
        "status": m["status"],
        "started_at": m.get("started_at"),
        "seconds": _seconds(m),
        "pipeline": m.get("pipeline"),
        "headline": headline(m.get("metrics", {})),
    }


def list_summaries(root: Path) -> list[dict[str, Any]]:
    """Every run under `root`, newest first."""
    return [summary(m) for m in reversed(list_runs(root))]


def run_dir(root: Path, run_id: str) -> Path:
    """The directory of run `run_id` under `root`; the id must name a direct child."""
    path = root / run_id
    if "/" in run_id or run_id in ("", ".", "..") or not (path / MANIFEST).is_file():
        raise LMForgeError(f"no run {run_id!r} under {root}")
    return path


def lineage(root: Path, run_id: str) -> dict[str, Any]:
    """Nodes (runs) and edges (artifact role) around `run_id`: its ancestors, the runs that
    consumed its outputs, and a pipeline's stage runs."""
    by_id = {m["id"]: m for m in list_runs(root)}
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, str]] = []

    def add(rid: str) -> None:
        if rid not in nodes and rid in by_id:
            m = by_id[rid]
            nodes[rid] = {"id": rid, "stage": m["stage"], "status": m["status"]}

    def ancestors(rid: str, depth: int) -> None:
        add(rid)
        if depth == 0 or rid not in by_id:
            return
        for inp in by_id[rid].get("inputs", []):
            src = inp.get("produced_by")
            if src and src != rid and src in by_id:
                edge = {"from": src, "to": rid, "role": inp["role"]}
                if edge not in edges:
                    edges.append(edge)
                    ancestors(src, depth - 1)

    ancestors(run_id, LINEAGE_DEPTH)
    for m in by_id.values():
        for inp in m.get("inputs", []):
            if inp.get("produced_by") == run_id and m["id"] != run_id:
                add(m["id"])
                edge = {"from": run_id, "to": m["id"], "role": inp["role"]}
                if edge not in edges:
                    edges.append(edge)
    for st in (by_id.get(run_id, {}).get("metrics") or {}).get("stages") or []:
        add(st["run"])
        edges.append({"from": run_id, "to": st["run"], "role": f"stage {st['name']}"})
    return {"nodes": list(nodes.values()), "edges": edges}


def detail(root: Path, run_id: str) -> dict[str, Any]:
    m = load_manifest(run_dir(root, run_id))
    rejected = [o for o in m.get("outputs", []) if o["role"] == "rejected"]
    return {
        "summary": summary(m),
        "manifest": m,
        "lineage": lineage(root, run_id),
        "has_rejected": bool(rejected),
    }


def rejected_samples(
    root: Path, run_id: str, reason: str | None = None, limit: int = 20
) -> dict[str, Any]:
    """Documents a data run dropped: counts by (step, reason), and up to `limit` samples of
    `reason` (or of every reason) with the text cut to 600 characters."""
    m = load_manifest(run_dir(root, run_id))
    dirs = [Path(o["path"]) for o in m.get("outputs", []) if o["role"] == "rejected"]
    counts: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    for d in dirs:
        for f in sorted(d.glob("*.jsonl")) if d.is_dir() else []:
            for line in f.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                r = json.loads(line)
                key = f"{r['step']}: {r['reason']}"
                counts[key] = counts.get(key, 0) + 1
                if (reason is None or r["reason"] == reason) and len(samples) < limit:
                    samples.append({**r, "text": r["text"][:600]})
    return {"counts": counts, "samples": samples}
