"""The quickstart's own stage kinds: a crawl-like raw corpus, and a labelling task built from
what the data stage kept.

The task: say which kind of text a crawled page holds (math problem, news, film review,
science question), answering with one word. A 135M model follows the instruction only
loosely before fine-tuning; a few minutes of LoRA on the curated pages teach it the task, which
the held-out pages then measure.
"""

import json
import random
from pathlib import Path
from typing import Any

from pydantic import Field

from lmforge.config import StageConfig
from lmforge.errors import ConfigError
from lmforge.files import atomic_write_text
from lmforge.runs import Run

QUESTION = (
    "What kind of text is this: math, news, review or science? Answer with one word.\n\n"
    "Text: {text}"
)


class CrawlConfig(StageConfig):
    """A seeded crawl-like corpus (see lmforge.pipeline.crawl for what each share imitates)."""

    n_per_label: int = Field(120, ge=1, description="Clean pages per source before the noise.")
    seed: int = 0
    exact_dup: float = Field(0.08, ge=0, le=1)
    near_dup: float = Field(0.06, ge=0, le=1)
    boilerplate: float = Field(0.3, ge=0, le=1)
    pii: float = Field(0.12, ge=0, le=1)
    non_english: int = Field(30, ge=0)
    nav_only: int = Field(15, ge=0)
    junk: int = Field(30, ge=0)


def crawl(cfg: CrawlConfig, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    """Writes crawl.jsonl: {id, url, text, source, noise} per page."""
    from collections import Counter

    from lmforge.pipeline.crawl import make_crawl, write_crawl

    records = make_crawl(**cfg.model_dump())
    run.log_metrics(pages=len(records), noise=dict(Counter(r["noise"] for r in records)))
    return {"corpus": write_crawl(run.dir / "crawl.jsonl", records)}


class LabelTaskConfig(StageConfig):
    """Curated pages -> instruction/response training rows and held-out question/answer rows."""

    label_field: str = "source"
    labels: list[str] = Field(default_factory=lambda: ["math", "news", "review", "science"])
    max_words: int = Field(60, ge=1, description="Words of each page shown to the model.")
    train_limit: int | None = Field(None, ge=1)
    heldout_limit: int | None = Field(None, ge=1)
    seed: int = 0


def _rows(path: Path) -> list[dict[str, Any]]:
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    return [json.loads(ln) for f in files for ln in f.read_text("utf-8").splitlines() if ln]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def label_task(cfg: LabelTaskConfig, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    """Only pages with a wanted label count (the curated crawl keeps no 'other' page, but a
    user's corpus may); held-out pages come from the data stage's val split, never train."""
    out: dict[str, Path] = {}
    counts: dict[str, int] = {}
    for split, key, limit in (
        ("train", "train", cfg.train_limit),
        ("heldout", "val", cfg.heldout_limit),
    ):
        rows = [r for r in _rows(inputs[key]) if r.get(cfg.label_field) in cfg.labels]
        if not rows:
            raise ConfigError(
                f"input {key!r} ({inputs[key]}): no record has {cfg.label_field!r} in {cfg.labels}"
            )
        random.Random(cfg.seed).shuffle(rows)
        rows = rows[:limit]
        counts[split] = len(rows)
        asked = [
            {
                "id": r["id"],
                "question": QUESTION.format(text=" ".join(r["text"].split()[: cfg.max_words])),
                "answer": r[cfg.label_field],
            }
            for r in rows
        ]
        if split == "train":
            asked = [
                {
                    "id": a["id"],
                    "messages": [
                        {"role": "user", "content": a["question"]},
                        {"role": "assistant", "content": a["answer"]},
                    ],
                }
                for a in asked
            ]
        out[split] = _write(run.dir / f"{split}.jsonl", asked)
    run.log_metrics(**counts)
    return out
