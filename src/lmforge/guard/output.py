"""Output scanners: system-prompt leakage (canary tokens), toxicity, and RAG citation checks.

A canary is a random marker placed in the system prompt; it never appears in an honest answer,
so seeing it in the output proves the system prompt leaked (verbatim or nearly). Citations are
checked against the sources the RAG step actually retrieved, so an answer citing [4] when three
chunks were given, or a document id that does not exist, is caught before the user trusts it.
"""

import re
import secrets
from collections.abc import Sequence

from lmforge.data.toxicity import toxic_words, toxicity_score
from lmforge.guard.verdict import Verdict, allow

CANARY_PREFIX = "lmf-canary-"
_CITATION = re.compile(r"\[([^\[\]\n]{1,80})\]")


def make_canary() -> str:
    """A fresh canary token (64 random bits: never in an honest answer by chance)."""
    return f"{CANARY_PREFIX}{secrets.token_hex(8)}"


def with_canary(system_prompt: str, canary: str) -> str:
    """The system prompt carrying `canary` where a leak copies it along with the rest."""
    return f"{system_prompt}\n[{canary}]"


def scan_canary(text: str, canaries: Sequence[str], system_prompt: str | None = None) -> Verdict:
    """Block when a canary, or a 12-word run of the system prompt, appears in the output."""
    squashed = re.sub(r"\s+", "", text)
    for c in canaries:
        if c in text or c in squashed:
            return Verdict(
                "canary", "block", 1.0, "system prompt leaked: canary token in the output"
            )
    if system_prompt:
        words = system_prompt.split()
        out = " ".join(text.split())
        for i in range(len(words) - 11):
            if " ".join(words[i : i + 12]) in out:
                return Verdict(
                    "canary", "block", 0.9, "system prompt leaked: 12+ words copied verbatim"
                )
    return allow("canary")


def scan_toxicity(text: str, threshold: float) -> Verdict:
    score = toxicity_score(text)
    if score >= threshold:
        words = sorted(set(toxic_words(text)))[:5]
        return Verdict("toxicity", "block", score, f"toxic language: {', '.join(words)}")
    return allow("toxicity", score)


def cited(text: str) -> list[str]:
    """Citation markers in an answer: `[1]`, `[2, 3]`, `[doc-id]` (comma-separated inside)."""
    return [p.strip() for m in _CITATION.finditer(text) for p in m.group(1).split(",") if p.strip()]


def scan_citations(text: str, sources: Sequence[str]) -> Verdict:
    """Every cited marker must be a 1-based index into `sources` or one of their ids."""
    ids = set(sources)
    marks = cited(text)
    missing = [
        m for m in marks if m not in ids and not (m.isdigit() and 1 <= int(m) <= len(sources))
    ]
    if missing:
        return Verdict(
            "citations",
            "block",
            1.0,
            f"cites sources that were not retrieved: {', '.join(missing[:5])}",
        )
    return allow("citations", 0.0, f"{len(marks)} citations, all retrieved")
