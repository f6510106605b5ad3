"""The loss curve as a PNG (train loss per logged step, validation loss where evaluated)."""

import io
from pathlib import Path
from typing import Any

from lmforge.extras import require
from lmforge.files import atomic_write_bytes


def loss_curve_png(history: list[dict[str, Any]], out: Path, title: str) -> Path | None:
    """Write the curve to `out` atomically; None when nothing was logged."""
    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    val = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    if not train and not val:
        return None
    require("train", "matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss")
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(out, buf.getvalue())
