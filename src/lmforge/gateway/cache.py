"""Response caches: exact (normalised request hash) and semantic (embedding similarity).

Only deterministic requests are cached (temperature 0, or a fixed seed; one choice): caching a
sampled answer would silently turn sampling off. Entries live in `cachetools.TTLCache`, so both
bounds (age and count) hold without a sweeper.

The semantic cache answers a request whose prompt *means* the same as a cached one. Cosine
similarity alone cannot tell "What is 17 * 23?" from "What is 17 * 24?" (MiniLM puts them at
~0.97, above most true paraphrases), so a candidate must also pass `same_salient`: the
numbers, negations and capitalised names of both prompts must be equal, in order. The cosine
bar is chosen on the shipped paraphrase / near-miss set (see `choose_threshold`).

MiniLM also ranks lowercase swaps ("sort a list" / "sort a dictionary", "maximum" /
"minimum") above real paraphrases, so `compatible` adds a lexical rule: the two prompts'
content words (stop words and request framing such as "tell me", "explain" dropped) may
differ only by additions on one side, never by a replacement other than a WordNet synonym
(gateway/synonyms.py: "bigger" / "larger" pass, "bigger" / "smaller" do not). Word order is
free unless a synonym was swapped in, but each number keeps the unit after it ("5 miles to
kilometers" is not "5 kilometers to miles"), and arithmetic operators count as salient
("times" = "multiplied by", never "plus").
"""

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from cachetools import TTLCache

from lmforge.gateway.synonyms import are_synonyms

# Fields that change how an answer is delivered, not what it is.
DELIVERY = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})
NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "none",
        "nothing",
        "nobody",
        "neither",
        "nor",
        "without",
        "cannot",
        "cant",
        "can't",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "won't",
        "wouldn't",
        "shouldn't",
        "couldn't",
        "hasn't",
        "haven't",
        "hadn't",
        "mustn't",
        "n't",
    ]
)
FRAMING = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "why",
        "when",
        "where",
        "tell",
        "show",
        "give",
        "explain",
        "describe",
        "calculate",
        "recommend",
        "suggest",
        "compute",
        "name",
        "write",
        "implement",
        "please",
        "help",
        "need",
        "want",
        "know",
        "way",
        "ways",
        "mean",
        "get",
        "make",
        "does",
        "do",
        "did",
        "is",
        "are",
        "was",
        "can",
        "could",
        "would",
        "should",
        "will",
        "say",
        "me",
        "my",
        "i",
        "you",
        "your",
        "we",
        "our",
        "us",
        "it",
        "its",
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "at",
        "from",
        "about",
        "into",
        "as",
        "using",
        "via",
    ]
)
# "I" and its contractions are capitalised everywhere, so they are not names
_PRONOUN_I = frozenset({"i", "i'm", "i'd", "i've", "i'll"})
_LOWER = re.compile(r"[a-z0-9]+")
_NUM = re.compile(r"-?\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019]*")
_SENTENCE_END = re.compile(r"[.?!:]\s*$")
# Arithmetic operators are salient like numbers: "17 times 23" / "17 plus 23" is a near miss,
# "17 times 23" / "multiply 17 by 23" is not.
_OPERATORS = {
    "times": "MUL",
    "multiplied": "MUL",
    "multiply": "MUL",
    "product": "MUL",
    "plus": "ADD",
    "add": "ADD",
    "added": "ADD",
    "sum": "ADD",
    "minus": "SUB",
    "subtract": "SUB",
    "subtracted": "SUB",
    "divided": "DIV",
    "divide": "DIV",
    "over": "DIV",
}


def cacheable(body: dict[str, Any]) -> bool:
    deterministic = body.get("temperature", 1.0) == 0 or body.get("seed") is not None
    return deterministic and body.get("n", 1) == 1


def exact_key(path: str, body: dict[str, Any]) -> str:
    """SHA-256 of the request in canonical form: sorted keys, delivery fields dropped."""
    kept = {k: v for k, v in body.items() if k not in DELIVERY}
    blob = json.dumps([path, kept], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def prompt_text(body: dict[str, Any]) -> str:
    """The text a semantic match compares: the messages' contents, or the prompt."""
    if "messages" in body:
        parts = []
        for m in body["messages"]:
            c = m.get("content")
            if isinstance(c, list):
                c = "".join(p.get("text") or "" for p in c if isinstance(p, dict))
            parts.append(f"{m.get('role')}: {c or ''}")
        return "\n".join(parts)
    p = body.get("prompt", "")
    return p if isinstance(p, str) else json.dumps(p)


def bucket_key(path: str, body: dict[str, Any]) -> str:
    """Everything but the prompt: only requests equal on these may share an answer."""
    rest = {k: v for k, v in body.items() if k not in DELIVERY | {"messages", "prompt"}}
    return exact_key(path, rest)


def salient(text: str) -> list[str]:
    """Numbers, operators, negations and capitalised names, in order: the words a near miss
    changes. A capital after a sentence end (or at the start) is not a name."""
    out = [n.replace(",", "") for n in _NUM.findall(text)]
    ops = []
    for i, m in enumerate(_WORD.finditer(text)):
        w = m.group()
        lw = w.lower().replace("\u2019", "'")
        if lw in NEGATIONS or lw.endswith("n't"):
            out.append("NOT")
        elif lw in _OPERATORS and _NUM.search(text):
            ops.append(_OPERATORS[lw])
        elif (
            i > 0
            and w[0].isupper()
            and lw not in _PRONOUN_I
            and not _SENTENCE_END.search(text[: m.start()])
            and text[m.start() - 1 : m.start()] != "-"
        ):
            out.append(lw)
    return out + sorted(set(ops))


def same_salient(a: str, b: str) -> bool:
    return salient(a) == salient(b)


def _stem(w: str) -> str:
    if len(w) > 4 and w.endswith(("ied", "ies")):  # multiplied, multiplies -> multiply
        return w[:-3] + "y"
    for suf in ("ing", "ed", "es", "ly", "s"):
        if len(w) > 4 and w.endswith(suf) and not (suf == "ly" and w.endswith("ply")):
            return w[: -len(suf)]
    return w


@functools.cache
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | FRAMING


def content_words(text: str) -> list[tuple[str, str]]:
    """(stem, word) of each content word, in order (operators of a sum are salient instead)."""
    stop = _stop_words()
    ops = _OPERATORS if _NUM.search(text) else {}
    return [(_stem(w), w) for w in _LOWER.findall(text.lower()) if w not in stop and w not in ops]


def number_units(text: str) -> list[str | None]:
    """The content word right after each number ("5 miles" -> "mile"), None if there is none.

    Word order is otherwise free ("How many kilometers are 5 miles?" / "Convert 5 miles to
    kilometers."), but a number keeps its unit: "5 miles to kilometers" is not "5 kilometers
    to miles"."""
    stop = _stop_words()
    out: list[str | None] = []
    for m in _NUM.finditer(text):
        nxt = (
            _LOWER.match(text.lower(), m.end() + 1) if text[m.end() : m.end() + 1] == " " else None
        )
        w = nxt.group() if nxt else ""
        unit = w and w not in stop and w not in _OPERATORS and not w.isdigit()
        out.append(_stem(w).rstrip("e") if unit else None)
    return out


def compatible(a: str, b: str) -> bool:
    """May a cached answer to `a` answer `b`? Salient words equal, each number with the same
    unit where both name one, no content word replaced except by a synonym."""
    if not same_salient(a, b):
        return False
    ua, ub = number_units(a), number_units(b)
    if any(x is not None and y is not None and x != y for x, y in zip(ua, ub, strict=False)):
        return False
    wa, wb = content_words(a), content_words(b)
    sa, sb = [s for s, _ in wa], [s for s, _ in wb]
    only_a = [(s, w) for s, w in wa if s not in sb]
    only_b = [(s, w) for s, w in wb if s not in sa]
    if only_a and only_b:  # a replacement: allowed only word for synonym, one to one
        rename = {}
        for s, w in only_b:
            match = next((x for x in only_a if are_synonyms(x[1], w)), None)
            if match is not None:
                rename[s] = match[0]
                only_a.remove(match)
        sb = [rename.get(s, s) for s in sb]
        if only_a and [s for s in sb if s not in sa]:
            return False
        # a synonym swap keeps the order ("big files to small" / "small files to large")
        if rename and [w for w in sa if w in sb] != [w for w in sb if w in sa]:
            return False
    return True


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
        """The cached answer most similar to `vec` above the bar whose salient words match."""
        keys = [k for k in self.buckets.get(bucket, []) if k in self.entries]  # drop expired
        self.buckets[bucket] = keys
        if not keys:
            return None
        cands = [self.entries[k] for k in keys]
        sims = np.stack([c.vec for c in cands]) @ vec  # type: ignore[misc]
        for i in np.argsort(-sims):
            if sims[i] < self.threshold:
                break
            if compatible(cands[i].text, text):
                return cands[i].body
        return None
