"""Response caches: exact (normalised request hash) and semantic (embedding similarity).

Only deterministic requests are cached (temperature 0, or a fixed seed; one choice): caching a
sampled answer would silently turn sampling off. Entries live in `cachetools.TTLCache`, so both
bounds (age and count) hold without a sweeper.

The semantic cache answers a request whose prompt *means* the same as a cached one: MiniLM
cosine above a bar, and the lexical verifier (gateway/verify.py `compatible`) agreeing. The
bar is chosen on the dev families of the shipped paraphrase / near-miss set
(`choose_threshold`, bench/gateway_cache.py). `match` also returns the grey zone: candidates
above the bar with the same structure (`verify.same_structure`) that the verifier refused for
their words alone, which the gateway may put to its LLM judge (gateway/judge.py).
"""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cachetools import TTLCache

from lmforge.gateway.verify import compatible, same_structure

# Fields that change how an answer is delivered, not what it is.
DELIVERY = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})


def cacheable(body: dict[str, Any]) -> bool:
    deterministic = body.get("temperature", 1.0) == 0 or body.get("seed") is not None
    return deterministic and body.get("n", 1) == 1


def exact_key(path: str, body: dict[str, Any]) -> str:
    """SHA-256 of the request in canonical form: sorted keys, delivery fields dropped."""
    kept = {k: v for k, v in body.items() if k not in DELIVERY}
    blob = json.dumps([path, kept], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def prompt_text(body: dict[str, Any]) -> str:
    """The text a semantic match compares: the messages' contents (role-labelled, except a
    lone user message, whose label says nothing and only shifts the embedding and the judge's
    reading away from the bare text the bars were chosen on), or the prompt."""
    if "messages" in body:
        parts = []
        for m in body["messages"]:
            c = m.get("content")
            if isinstance(c, list):
                c = "".join(p.get("text") or "" for p in c if isinstance(p, dict))
            parts.append((m.get("role"), c or ""))
        if len(parts) == 1 and parts[0][0] == "user":
            return parts[0][1]
        return "\n".join(f"{r}: {c}" for r, c in parts)
    p = body.get("prompt", "")
    return p if isinstance(p, str) else json.dumps(p)


def bucket_key(path: str, body: dict[str, Any]) -> str:
    """Everything but the prompt: only requests equal on these may share an answer."""
    rest = {k: v for k, v in body.items() if k not in DELIVERY | {"messages", "prompt"}}
    return exact_key(path, rest)


def choose_threshold(
    para: np.ndarray, near: np.ndarray, para_guard: np.ndarray, near_guard: np.ndarray
) -> float:
    """The lowest cosine bar with zero near-miss hits (guard included) on this split.

    Inputs are the pairs' similarities and whether each pair passes `compatible`.
    """
    passing = near[near_guard]
    floor = float(passing.max()) + 1e-4 if passing.size else 0.0
    cands = np.sort(para[para_guard & (para >= floor)])
    return float(cands[0]) if cands.size else min(1.0, floor)


@dataclass(slots=True)
class Entry:
    body: dict[str, Any]
    text: str
    vec: np.ndarray | None


@dataclass(slots=True)
class Match:
    """A semantic lookup: the verified hit, else the grey-zone candidates, most similar first."""

    hit: dict[str, Any] | None = None
    grey: list[Entry] = field(default_factory=list)


class ResponseCache:
    """Exact lookups by key; semantic lookups scan one bucket's vectors (a matmul)."""

    def __init__(self, max_entries: int, ttl_s: float, threshold: float = 1.0) -> None:
        self.entries: TTLCache[str, Entry] = TTLCache(maxsize=max_entries, ttl=ttl_s)
        self.buckets: dict[str, list[str]] = {}
        self.threshold = threshold

    def get(self, key: str) -> dict[str, Any] | None:
        e = self.entries.get(key)
        return None if e is None else e.body

    def put(
        self,
        key: str,
        body: dict[str, Any],
        bucket: str = "",
        text: str = "",
        vec: np.ndarray | None = None,
    ) -> None:
        self.entries[key] = Entry(body, text, vec)
        if vec is not None:
            keys = self.buckets.setdefault(bucket, [])
            if key not in keys:
                keys.append(key)

    def nearest(self, bucket: str, text: str, vec: np.ndarray) -> dict[str, Any] | None:
        """The cached answer most similar to `vec` above the bar that the verifier admits."""
        return self.match(bucket, text, vec).hit

    def match(self, bucket: str, text: str, vec: np.ndarray) -> Match:
        """The verified hit above the bar, else every candidate above it whose only fault is
        a content-word replacement (same numbers, negations, names, units and direction)."""
        keys = [k for k in self.buckets.get(bucket, []) if k in self.entries]  # drop expired
        self.buckets[bucket] = keys
        out = Match()
        if not keys:
            return out
        cands = [self.entries[k] for k in keys]
        sims = np.stack([c.vec for c in cands]) @ vec  # type: ignore[misc]
        for i in np.argsort(-sims):
            if sims[i] < self.threshold:
                break
            if compatible(cands[i].text, text):
                return Match(hit=cands[i].body)
            if same_structure(cands[i].text, text):
                out.grey.append(cands[i])
        return out
