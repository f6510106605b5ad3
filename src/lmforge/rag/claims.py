"""Atomic claims of an answer and the evidence span each one is checked against.

A claim is one sentence of the answer (also split at ';'), its [n] citations removed and kept
aside. Its evidence is found in the chunks it cites (all retrieved chunks when it cites none):
every chunk sentence is scored by how many of the claim's content words and numbers it contains,
and the best two sentences, in context order, form the premise a verifier reads. Short premises
keep a small cross-encoder (or a 135M generator) on the sentences that matter, and the best one,
with its chunk and character offsets, is the evidence span reported with the verdict.
"""

import re
from dataclasses import dataclass

_SPLIT = re.compile(r"(?<=[.!?;])\s+(?=\S)")
_CITE = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
# A sentence ends at . ! ? followed by a space or the end: "10.5" and "3.14" do not end one.
_SENT = re.compile(r"(?:[^.!?]|[.!?]+(?=\S))+[.!?]*")
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "it",
        "its",
        "this",
        "that",
        "with",
        "as",
        "by",
        "from",
        "he",
        "she",
        "they",
        "his",
        "her",
        "their",
        "them",
        "so",
        "then",
        "than",
    ]
)


@dataclass(slots=True)
class Claim:
    text: str  # without citations
    cites: list[int]  # 1-based chunk numbers cited in the sentence
    source: str = ""  # the answer's text of this claim, citations included


@dataclass(slots=True)
class Evidence:
    premise: str  # what the verifier reads
    chunk: int  # 1-based chunk of the best sentence (0 when there is no context)
    start: int  # character span of the best sentence in that chunk's text
    end: int
    overlap: float  # share of the claim's content tokens found in the premise


def split_claims(answer: str) -> list[Claim]:
    out = []
    for part in _SPLIT.split(answer.strip()):
        cites = [int(n) for m in _CITE.finditer(part) for n in re.split(r"\s*,\s*", m.group(1))]
        text = re.sub(r"\s+([.,;:!?])", r"\1", _CITE.sub("", part)).strip()
        if len(_WORD.findall(text.lower())) >= 2:
            out.append(Claim(text, sorted(set(cites)), part))
    return out


def content_tokens(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def find_evidence(claim: Claim, chunks: list[str], top: int = 2) -> Evidence:
    """The best `top` sentences of the cited chunks (all chunks if none valid is cited)."""
    cited = [n for n in claim.cites if 1 <= n <= len(chunks)] or list(range(1, len(chunks) + 1))
    want = content_tokens(claim.text)
    scored = []  # (score, chunk, start, end, text)
    for n in cited:
        for m in _SENT.finditer(chunks[n - 1]):
            sent = m.group(0).strip()
            if sent:
                got = len(want & content_tokens(sent)) / max(1, len(want))
                scored.append((got, n, m.start(), m.end(), sent))
    if not scored:
        return Evidence("", 0, 0, 0, 0.0)
    best = sorted(scored, key=lambda s: (-s[0], s[1], s[2]))[:top]
    premise = " ".join(s[4] for s in sorted(best, key=lambda s: (s[1], s[2])))
    overlap = len(want & content_tokens(premise)) / max(1, len(want))
    return Evidence(premise, best[0][1], best[0][2], best[0][3], round(overlap, 4))
