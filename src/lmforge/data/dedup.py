"""Global deduplication: exact (normalised text hash) and near (MinHash LSH), across shards.

Workers compute, per kept document, its input position, id, exact-text hash and MinHash
signature (`signature_arrays`). One global pass (`plan_dedup`) then sees every document of
every shard at once, so duplicates are found whichever shard or worker holds them, and the
kept one is always the first in input order: the plan is the same for any sharding and any
executor. The plan also gives each document a split group (its LSH-candidate component) so
train/validation splitting never separates near-duplicates.
"""

import unicodedata
from dataclasses import dataclass

import numpy as np

from lmforge.data.minhash import EMPTY, MinHasher, candidate_pairs
from lmforge.extras import require

KEEP, EXACT, NEAR = 0, 1, 2
REASONS = {EXACT: "exact_duplicate", NEAR: "near_duplicate"}


def normalise_for_exact(text: str) -> str:
    """What "the same text" means for exact dedup: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def exact_keys(texts: list[str]) -> np.ndarray:
    """(n, 2) uint64: the 128-bit xxh3 hash of each normalised text."""
    xxh = require("data", "xxhash").xxh3_128_intdigest
    out = np.empty((len(texts), 2), dtype=np.uint64)
    for i, t in enumerate(texts):
        h = xxh(normalise_for_exact(t).encode("utf-8", "surrogatepass"))
        out[i] = (h >> 64, h & 0xFFFFFFFFFFFFFFFF)
    return out


@dataclass(slots=True, frozen=True)
class NearDedupParams:
    """MinHash LSH settings (see docs/data.md for the threshold the defaults imply)."""

    shingle_size: int = 5
    num_perm: int = 112
    bands: int = 14
    rows: int = 8
    threshold: float = 0.75
    seed: int = 1


def signature_arrays(
    texts: list[str], near: NearDedupParams | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-shard work: exact keys, and MinHash signatures when near dedup is on."""
    sig = None
    if near is not None:
        sig = MinHasher(near.num_perm, near.shingle_size, near.seed).signatures(texts)
    return exact_keys(texts), sig


@dataclass(slots=True)
class DedupPlan:
    """Per document (rows in input order): reason code, index of the kept duplicate, group."""

    reason: np.ndarray  # int8: KEEP, EXACT or NEAR
    dup_of: np.ndarray  # int64: row of the document kept instead (itself when kept)
    group: np.ndarray  # int64: smallest row of its LSH-candidate component (split unit)


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Smallest member of each node's connected component (min-label propagation + jumping)."""
    label = np.arange(n, dtype=np.int64)
    if len(pairs) == 0:
        return label
    a, b = pairs[:, 0], pairs[:, 1]
    while True:
        m = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


def plan_dedup(
    exact: np.ndarray | None, sig: np.ndarray | None, near: NearDedupParams | None
) -> DedupPlan:
    """Decide which rows (already in input order) to drop. Exact duplicates go first; near
    duplicates are then found among the survivors: LSH candidates whose estimated Jaccard
    (share of equal signature values) reaches `near.threshold` are joined, and each cluster
    keeps its first row. Documents with no words have no signature and skip near dedup."""
    n = len(exact) if exact is not None else len(sig)
    reason = np.zeros(n, dtype=np.int8)
    dup_of = np.arange(n, dtype=np.int64)
    if exact is not None:
        order = np.lexsort((np.arange(n), exact[:, 1], exact[:, 0]))
        k = exact[order]
        new = np.r_[True, (k[1:] != k[:-1]).any(axis=1)]
        first = order[np.maximum.accumulate(np.where(new, np.arange(n), 0))]
        reason[order[~new]] = EXACT
        dup_of[order] = first
    group = dup_of.copy()
    if near is None or sig is None:
        return DedupPlan(reason, dup_of, group)
    live = np.flatnonzero((reason == KEEP) & (sig != EMPTY).any(axis=1))
    sub = sig[live]
    pairs = candidate_pairs(sub, near.bands, near.rows)
    if len(pairs):
        est = (sub[pairs[:, 0]] == sub[pairs[:, 1]]).mean(axis=1)
        close = pairs[est >= near.threshold]
        rep = live[components(len(live), close)]
        dropped = rep != live
        reason[live[dropped]] = NEAR
        dup_of[live] = rep
        group[live] = live[components(len(live), pairs)]
    group = group[dup_of]  # exact duplicates follow the document they duplicate
    return DedupPlan(reason, dup_of, group)
