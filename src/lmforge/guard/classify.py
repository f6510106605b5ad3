"""Scoring texts with the classifier: long texts are cut into windows and the worst one counts.

MiniLM reads 256 tokens; an injection appended after a long harmless preamble (context overflow,
poisoned documents) would be truncated away. Windows of `WINDOW_WORDS` words with overlap keep
every part of the text in view, and the text scores as its most suspicious window. Training,
threshold selection, evaluation and serving all score through `classifier_scores`, so the
threshold is chosen on exactly the scores it is later applied to.
"""

import numpy as np

from lmforge.guard.classifier import LinearHead
from lmforge.guard.decode import decode_payloads
from lmforge.guard.embed import Embedder
from lmforge.guard.unicode import inspect

WINDOW_WORDS = 160
STRIDE_WORDS = 120


def windows(text: str) -> list[str]:
    words = text.split()
    if len(words) <= WINDOW_WORDS:
        return [text]
    starts = range(0, len(words) - WINDOW_WORDS + STRIDE_WORDS, STRIDE_WORDS)
    return [" ".join(words[s : s + WINDOW_WORDS]) for s in starts]


def classifier_scores(texts: list[str], embedder: Embedder, head: LinearHead) -> np.ndarray:
    """P(injection) per text: the max over its windows, embedded in one batch."""
    owner: list[int] = []
    pieces: list[str] = []
    for i, t in enumerate(texts):
        w = windows(t)
        pieces += w
        owner += [i] * len(w)
    if not pieces:
        return np.zeros(0)
    emb = embedder.encode(pieces) if len(pieces) > 1 else embedder.encode_one(pieces[0])[None]
    s = head.scores(emb)
    out = np.zeros(len(texts))
    np.maximum.at(out, np.asarray(owner), s)
    return out


def rescan_texts(text: str, max_decoded: int = 3) -> list[str]:
    """`text`, then what the attacked model would read: de-obfuscated text, and the text with
    its encoded spans decoded in place (one per decoding depth).

    Decoded spans are scored in their sentence, never alone: a bare "see you soon" decoded from
    Morse is short and context-free, which the head mistakes for an attack.
    """
    clean = inspect(text).clean
    out = [text] + ([clean] if clean != text else [])
    inline = [d.text for d in decode_payloads(clean) if d.encoding.endswith("inline")]
    return out + inline[:max_decoded]
