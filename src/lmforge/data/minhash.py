"""MinHash signatures (one-permutation hashing) and LSH banding, vectorised over batches.

Classic MinHash (datasketch) applies `num_perm` hash functions to every shingle: O(shingles x
perms) work per document, after a SHA-1 per shingle in Python. We use one-permutation hashing
with densification (Li, Owen & Zhang 2012; Shrivastava & Li 2014): each shingle is hashed
once, its low bits pick one of `num_perm` bins and its high 32 bits compete for that bin's
minimum; empty bins borrow from the next non-empty bin (rotation), offset by the distance so
borrowed values do not collide by accident. Two documents agree in a bin with probability
equal to their Jaccard similarity, as in classic MinHash, so banding/LSH is unchanged, at
O(shingles) cost. Words are hashed with xxhash once; word n-gram hashes are combined with numpy
over the whole batch. bench/data.py measures precision, recall and speed against datasketch.
"""

import itertools
import string
from dataclasses import dataclass

import numpy as np

from lmforge.extras import require

EMPTY = np.uint32(0xFFFFFFFF)
_K = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
# ASCII punctuation -> space, so words come from C-speed byte operations.
_PUNCT = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads bits so combined keys behave like random 64-bit values."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def words(text: str) -> list[bytes]:
    """Lower-cased words of `text` (ASCII punctuation splits words), as UTF-8 bytes."""
    return text.lower().encode("utf-8", "surrogatepass").translate(_PUNCT).split()


@dataclass(slots=True)
class MinHasher:
    """Signatures of word n-gram shingle sets; same settings = same signatures in any process."""

    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1

    def __post_init__(self) -> None:
        assert self.num_perm > 0 and self.shingle_size > 0

    def shingle_hashes(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(64-bit hash of every word n-gram, index of its document). A document shorter than
        the shingle size is one shingle of all its words; one with no words has none."""
        xxh = require("data", "xxhash").xxh3_64_intdigest
        toks = [words(t) for t in texts]
        lens = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        h = np.fromiter(map(xxh, itertools.chain.from_iterable(toks)), np.uint64, int(lens.sum()))
        h = _mix(h ^ np.uint64(self.seed))
        n = self.shingle_size
        starts = np.concatenate(([0], np.cumsum(lens)[:-1])).astype(np.int64)
        count = np.where(lens >= n, lens - n + 1, (lens > 0).astype(np.int64))
        doc = np.repeat(np.arange(len(texts)), count)
        # Position of each shingle's first word: starts[doc] + rank of the shingle in its doc.
        first = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        pos = starts[doc] + first
        # Index of each shingle's j-th word, clamped to the doc's last word for short docs
        # (then the same word is mixed in again: still one deterministic hash per doc).
        last = starts[doc] + np.maximum(lens[doc] - 1, 0)
        out = h[pos].copy()
        for j in range(1, n):
            out = _mix(out * _K + h[np.minimum(pos + j, last)])
        return out, doc

    def signatures(self, texts: list[str]) -> np.ndarray:
        """(len(texts), num_perm) uint32 signatures; a text with no words gets all 0xFFFFFFFF."""
        p = self.num_perm
        sig = np.full(len(texts) * p, EMPTY, dtype=np.uint32)
        sh, doc = self.shingle_hashes(texts)
        cell = doc * p + (sh % np.uint64(p)).astype(np.int64)
        np.minimum.at(sig, cell, (sh >> np.uint64(32)).astype(np.uint32))
        return densify(sig.reshape(len(texts), p))


def densify(sig: np.ndarray) -> np.ndarray:
    """Fill each empty bin from the next non-empty bin to its right (circularly), adding
    distance * C (C = 2^32 / bins) so a borrowed value differs from the one it copies."""
    p = sig.shape[1]
    empty = sig == EMPTY
    rows = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if rows.size == 0:
        return sig
    sub = np.concatenate([sig[rows], sig[rows]], axis=1)  # circular: look across the end
    idx = np.where(sub != EMPTY, np.arange(2 * p), 2 * p)
    nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1][:, :p]
    dist = (nxt - np.arange(p)).astype(np.uint64)
    src = np.take_along_axis(sub, nxt, axis=1).astype(np.uint64)
    step = np.uint64((1 << 32) // p)
    filled = ((src + dist * step) & np.uint64(0xFFFFFFFE)).astype(np.uint32)
    sig[rows] = np.where(empty[rows], filled, sig[rows])
    return sig


def lsh_threshold(bands: int, rows: int) -> float:
    """The Jaccard similarity near which two documents start to collide in some band: the
    S-curve 1 - (1 - s^rows)^bands is steepest at about (1/bands)^(1/rows)."""
    return (1.0 / bands) ** (1.0 / rows)


def collision_probability(s: float, bands: int, rows: int) -> float:
    """Probability that two documents of Jaccard similarity `s` share at least one band."""
    return 1.0 - (1.0 - s**rows) ** bands


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64 keys: equal key in a band = identical `rows` signature values there."""
    n, p = sig.shape
    assert bands * rows <= p, f"bands*rows={bands * rows} exceeds num_perm={p}"
    s64 = sig[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    keys = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64), (n, bands)).copy()
    for r in range(rows):
        keys = _mix(keys * _K + s64[:, :, r])
    return keys


def candidate_pairs(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(m, 2) unique index pairs (i < j) that share a band, pairing each bucket's members with
    its first member (rows are in input order, so the first is the one to keep). Linear in
    bucket size, unlike all-pairs, so one huge bucket cannot blow up."""
    keys = band_keys(sig, bands, rows)
    n = len(sig)
    idx = np.arange(n)
    pairs = []
    for b in range(bands):
        order = np.lexsort((idx, keys[:, b]))
        k = keys[order, b]
        new = np.r_[True, k[1:] != k[:-1]]
        anchor = order[np.maximum.accumulate(np.where(new, idx, 0))]
        pairs.append(np.stack([anchor[~new], order[~new]], axis=1))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)
