"""The trained router: P(the cheap model answers right | the prompt's MiniLM embedding).

Trained by `lmforge gateway train-router` from two eval runs on the same task (cheap model,
strong model): each item gives (prompt, was the cheap model right). A logistic regression on
the L2-normalised embedding is enough at this data size and is stored as plain arrays (npz +
JSON, no pickle), with the embedder's fingerprint so a router is never used with the wrong one.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.errors import LMForgeError
from lmforge.files import atomic_write_bytes, atomic_write_json

WEIGHTS, META = "router.npz", "router.json"


@dataclass(slots=True)
class Router:
    """A logistic regression over features: the prompt embedding (`kind` "prompt") or
    `answer_router.answer_features` of (prompt, cheap answer) (`kind` "answer")."""

    coef: np.ndarray  # (n_features,)
    intercept: float
    embedder_id: str
    meta: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.meta.get("kind", "prompt"))

    def prob(self, vecs: np.ndarray) -> np.ndarray:
        """P(cheap model right) per row of features."""
        return 1.0 / (1.0 + np.exp(-(vecs @ self.coef + self.intercept)))

    def save(self, out: Path) -> Path:
        import io

        out.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, coef=self.coef, intercept=np.array([self.intercept]))
        atomic_write_bytes(out / WEIGHTS, buf.getvalue())
        atomic_write_json(out / META, {**self.meta, "embedder_id": self.embedder_id})
        return out


def load_router(path: str | Path) -> Router:
    p = Path(path)
    if not (p / WEIGHTS).is_file() or not (p / META).is_file():
        raise LMForgeError(
            f"router {p}: needs {WEIGHTS} and {META}; make one with lmforge gateway train-router"
        )
    w = np.load(p / WEIGHTS)
    meta = json.loads((p / META).read_text(encoding="utf-8"))
    return Router(w["coef"], float(w["intercept"][0]), meta.pop("embedder_id"), meta)


def fit_router(
    vecs: np.ndarray, cheap_ok: np.ndarray, embedder_id: str, c: float = 1.0, seed: int = 0
) -> Router:
    """Logistic regression (class-balanced) on embeddings -> P(cheap right)."""
    from sklearn.linear_model import LogisticRegression

    if len(set(cheap_ok.tolist())) < 2:
        raise LMForgeError(
            "train-router: the cheap model was right on all items or on none; a router needs "
            "both kinds (use more items or another task)"
        )
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
    clf.fit(vecs, cheap_ok.astype(int))
    meta = {"n": len(cheap_ok), "cheap_right": float(cheap_ok.mean()), "C": c}
    return Router(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), embedder_id, meta)


def pairs_from_runs(
    cheap: dict[str, Any], strong: dict[str, Any], task: str | None, metric: str | None
) -> tuple[list[str], list[str], np.ndarray, np.ndarray, str, str]:
    """(prompts, cheap outputs, cheap right, strong right, task, metric) from two eval
    results.json, paired by item id; an item is right when its metric score is >= 0.5."""
    tasks = sorted(set(cheap["tasks"]) & set(strong["tasks"]))
    if task is None:
        if len(tasks) != 1:
            raise LMForgeError(f"train-router: the runs share tasks {tasks}; pick one with --task")
        task = tasks[0]
    if task not in tasks:
        raise LMForgeError(f"train-router: task {task!r} is not in both runs (shared: {tasks})")
    a, b = cheap["tasks"][task]["items"], strong["tasks"][task]["items"]
    metrics = sorted(a[0]["scores"]) if a else []
    metric = metric or (metrics[0] if metrics else None)
    if metric not in metrics:
        raise LMForgeError(f"train-router: metric {metric!r} not scored; scored: {metrics}")
    by_id = {it["id"]: it for it in b}
    both = [(it, by_id[it["id"]]) for it in a if it["id"] in by_id]
    if len(both) < 10:
        raise LMForgeError(f"train-router: only {len(both)} items are in both runs; need >= 10")
    prompts = [str(x["prompt"]) for x, _ in both]
    outputs = [str(x.get("output") or "") for x, _ in both]
    ok_a = np.array([float(x["scores"][metric]) >= 0.5 for x, _ in both])
    ok_b = np.array([float(y["scores"][metric]) >= 0.5 for _, y in both])
    return prompts, outputs, ok_a, ok_b, task, metric
