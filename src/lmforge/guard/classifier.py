"""The injection classifier: a logistic-regression head on frozen MiniLM sentence embeddings.

Why a linear head: it trains in seconds on cached embeddings, is deterministic for a seed, ships
as a ~10 KB JSON file (385 numbers and a model card) and adds one dot product to the ~5 ms
embedding at scan time. The decision threshold is not 0.5: it is chosen on the validation split
so that the false-positive rate on benign prompts stays at or under a target, because a guard
that refuses ordinary users is switched off.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.errors import LMForgeError
from lmforge.files import atomic_write_json

ARTIFACT_FORMAT = "lmforge-guard-linear-v1"
SHIPPED = Path(__file__).parent / "artifacts" / "injection-minilm.json"


@dataclass(slots=True)
class LinearHead:
    weight: np.ndarray  # (dim,) float32
    bias: float
    threshold: float  # block when score >= threshold
    card: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.weight.ndim == 1, self.weight.shape
        assert 0.0 <= self.threshold <= 1.0, self.threshold

    @property
    def int8(self) -> bool:
        """Whether the threshold was chosen on int8-embedder scores (then scans must use int8)."""
        return bool(self.card.get("int8", False))

    def scores(self, emb: np.ndarray) -> np.ndarray:
        """P(injection) for each row of `emb` (n, dim)."""
        z = emb.astype(np.float32) @ self.weight + np.float32(self.bias)
        return 1.0 / (1.0 + np.exp(-z.astype(np.float64)))

    def save(self, path: str | Path) -> Path:
        # float32 -> float64 is exact and JSON round-trips float64, so reloading is bit-exact.
        data = {
            "format": ARTIFACT_FORMAT,
            "threshold": self.threshold,
            "bias": float(self.bias),
            "weight": [float(x) for x in self.weight],
            "card": self.card,
        }
        return atomic_write_json(path, data)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "LinearHead":
        path = Path(path) if path else SHIPPED
        if not path.is_file():
            raise LMForgeError(
                f"{path}: no guard classifier here; run `lmforge guard train --out {path}`"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != ARTIFACT_FORMAT:
            raise LMForgeError(
                f"{path}: format {data.get('format')!r} is not {ARTIFACT_FORMAT!r}; retrain it"
            )
        return cls(
            np.asarray(data["weight"], np.float32),
            float(data["bias"]),
            float(data["threshold"]),
            data["card"],
        )


def fit_logreg(
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    l2: float,
    max_iter: int = 200,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Class-balanced, L2-regularised logistic regression by full-batch L-BFGS (deterministic).

    `sample_weight` multiplies each example's loss (after class balancing): a few hundred hard
    negatives among 16k corpus texts need more than their head count to move the boundary.
    """
    import torch

    assert x.ndim == 2 and len(x) == len(y) and set(np.unique(y)) <= {0, 1}
    torch.manual_seed(seed)
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.float32))
    pos = float(yt.sum())
    assert 0 < pos < len(yt), "training data needs both classes"
    # Weight each class to half the loss, so the head does not just learn the corpus's base rate.
    weights = torch.where(yt > 0, len(yt) / (2 * pos), len(yt) / (2 * (len(yt) - pos)))
    if sample_weight is not None:
        assert sample_weight.shape == y.shape
        weights = weights * torch.from_numpy(sample_weight.astype(np.float32))
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = xt @ w + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, weight=weights)
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy().astype(np.float32), float(b.detach()[0])


def threshold_for_fpr(benign_scores: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold whose false-positive rate on `benign_scores` is <= target_fpr."""
    assert len(benign_scores) and 0.0 <= target_fpr < 1.0
    s = np.sort(benign_scores)[::-1]  # highest first
    allowed = int(np.floor(target_fpr * len(s)))  # benign prompts we may block
    # Block strictly above the (allowed+1)-th highest benign score.
    t = float(np.nextafter(s[allowed], np.inf)) if allowed < len(s) else 0.0
    return min(max(t, 0.0), 1.0)
