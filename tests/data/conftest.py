"""A small real-text corpus (gensim's bundled Lee news corpus) with injected duplicates."""

import json
import random
from pathlib import Path

import pytest


def lee_lines(n: int) -> list[str]:
    from gensim.test.utils import datapath

    with open(datapath("lee_background.cor"), encoding="utf-8", errors="replace") as f:
        return [ln.strip() for ln in f if len(ln.split()) > 60][:n]


@pytest.fixture(scope="session")
def corpus_records() -> list[dict]:
    """40 news articles + an exact duplicate, a near duplicate, a bad-language one, PII."""
    lines = lee_lines(41)
    rng = random.Random(0)
    recs = [{"id": f"lee-{i}", "text": t} for i, t in enumerate(lines[:40])]
    recs.append({"id": "exact", "text": lines[3].upper()})
    w = lines[7].split()
    w[rng.randrange(len(w))] = "indeed"
    recs.append({"id": "near", "text": " ".join(w)})
    recs.append({"id": "pii", "text": lines[40] + " Mail news@example.com today."})
    return recs


def write_shards(dir: Path, recs: list[dict], n: int) -> list[str]:
    """`recs` cut into `n` contiguous files: the input order is the same for every `n`, and
    the duplicates (at the end) sit in another shard than their originals."""
    dir.mkdir(parents=True, exist_ok=True)
    paths = []
    size = -(-len(recs) // n)
    for k in range(n):
        p = dir / f"in-{k}.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in recs[k * size : (k + 1) * size]))
        paths.append(str(p))
    return paths


def pipeline_cfg(inputs: list[str], out: Path, **extra) -> dict:
    return {
        "input": {"paths": inputs},
        "output": {"dir": str(out)},
        "steps": [
            {"type": "normalize"},
            {"type": "gopher"},
            {"type": "pii"},
            {"type": "exact_dedup"},
            {"type": "near_dedup"},
        ],
        "executor": {"workers": 1},
        **extra,
    }


@pytest.fixture
def h():
    """The corpus helpers (test modules here are not a package, so they cannot import them)."""
    from types import SimpleNamespace

    return SimpleNamespace(write_shards=write_shards, pipeline_cfg=pipeline_cfg)
