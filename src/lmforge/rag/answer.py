"""Answering with citations: numbered context, [n] citations checked against what was retrieved.

Retrieved chunks pass through `filters` (each takes and returns a list of hits) before the
prompt is built: this is where guardrails scan or redact retrieved text. If nothing relevant
enough was retrieved, we say so instead of letting the model improvise. A citation [n] outside
the retrieved set is removed from the answer and reported: an invented source is worse than none.
"""

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lmforge.rag.retrieve import Hit, Retrieval, Retriever

NOT_IN_DOCS = "The documents do not say."
ANSWER_PROMPT = (
    "Answer the question using only the numbered context passages. Cite the passages you use "
    "with their numbers in brackets, like [1]. If the context does not contain the answer, "
    "reply exactly: {nodocs}\n\nContext:\n{context}\n\nQuestion: {question}"
)
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")

ChunkFilter = Callable[[list[Hit]], list[Hit]]


@dataclass(slots=True)
class Answer:
    text: str
    citations: list[int]  # valid [n] used, 1-based into hits
    invalid_citations: list[int]
    hits: list[Hit]
    grounded: bool  # False when retrieval found nothing relevant enough
    sources: list[dict[str, Any]] = field(default_factory=list)
    self_check: dict[str, Any] | None = None  # verdicts and actions when self-check ran


def build_prompt(question: str, hits: list[Hit]) -> str:
    context = "\n\n".join(
        f"[{n}] ({h.chunk.heading_path or h.chunk.source}) {h.chunk.text}"
        for n, h in enumerate(hits, 1)
    )
    return ANSWER_PROMPT.format(nodocs=NOT_IN_DOCS, context=context, question=question)


def check_citations(text: str, n_hits: int) -> tuple[str, list[int], list[int]]:
    """Drop citations outside 1..n_hits from `text`; return (clean text, valid, invalid)."""
    valid: list[int] = []
    invalid: list[int] = []

    def fix(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.split(r"\s*,\s*", m.group(1))]
        good = [x for x in nums if 1 <= x <= n_hits]
        invalid.extend(x for x in nums if x not in good)
        valid.extend(x for x in good if x not in valid)
        return f"[{', '.join(map(str, good))}]" if good else ""

    clean = re.sub(r"\s+([.,;:])", r"\1", _CITATION.sub(fix, text)).strip()
    return clean, sorted(valid), invalid


def sources(hits: list[Hit]) -> list[dict[str, Any]]:
    return [
        {
            "n": n,
            "source": h.chunk.source,
            "position": h.chunk.position,
            "headings": list(h.chunk.headings),
            "score": round(h.score, 4),
        }
        for n, h in enumerate(hits, 1)
    ]


class RagPipeline:
    """Retrieve -> filter -> prompt -> generate -> check citations. Also usable by the server."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Any,
        top_k: int = 5,
        min_score: float = 0.3,
        max_tokens: int = 128,
        filters: list[ChunkFilter] | None = None,
        self_check: Any = None,
    ) -> None:
        self.retriever, self.generator = retriever, generator
        self.top_k, self.min_score, self.max_tokens = top_k, min_score, max_tokens
        self.filters: list[ChunkFilter] = list(filters or [])
        self.self_check = self_check  # a rag.selfcheck.SelfCheck, or None

    def context(self, question: str) -> tuple[Retrieval, list[Hit]]:
        found = self.retriever.retrieve(question, self.top_k)
        hits = found.hits if found.best_dense >= self.min_score else []
        for f in self.filters:
            hits = f(hits)
        return found, hits

    def with_self_check(self, check: Any) -> "RagPipeline":
        """This pipeline under another self-check (None = off), sharing everything else: a
        per-request policy without touching the pipeline other requests use."""
        other = copy.copy(self)
        other.self_check = check
        return other

    def ask(self, question: str) -> Answer:
        return self._finish(question, *self._start(question, stream=False))

    def stream(self, question: str) -> Iterator[str | Answer]:
        """Yields text pieces as they are generated, then the checked `Answer` last."""
        hits, out = self._start(question, stream=True)
        pieces = []
        for piece in [out] if isinstance(out, str) else out:
            pieces.append(piece)
            yield piece
        yield self._finish(question, hits, "".join(pieces))

    def _start(self, question: str, stream: bool) -> tuple[list[Hit], Any]:
        _, hits = self.context(question)
        if not hits:
            return hits, NOT_IN_DOCS
        return hits, self.generator.generate(build_prompt(question, hits), self.max_tokens, stream)

    def _finish(self, question: str, hits: list[Hit], raw: str) -> Answer:
        if not hits:
            return Answer(NOT_IN_DOCS, [], [], [], grounded=False)
        text, valid, invalid = check_citations(raw.strip(), len(hits))
        report = None
        if self.self_check is not None and text != NOT_IN_DOCS:
            prompt = build_prompt(question, hits)
            checked = self.self_check.run(
                text,
                [h.chunk.text for h in hits],
                prompt,
                lambda p: self.generator.generate(p, self.max_tokens),
            )
            report = checked.report
            if checked.refused:
                return Answer(NOT_IN_DOCS, [], invalid, hits, True, sources(hits), report)
            text, valid, more = check_citations(checked.text, len(hits))
            invalid += [n for n in more if n not in invalid]
        return Answer(text, valid, invalid, hits, True, sources(hits), report)
