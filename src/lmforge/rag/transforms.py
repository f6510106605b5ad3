"""Query transforms: multi-query paraphrases, HyDE, and routing between indexes.

Multi-query asks the LLM for N rewordings and fuses their result lists (RRF), so a question
phrased unlike the documents still finds them. HyDE (Gao et al. 2022) embeds a hypothetical
answer the LLM writes, since an answer looks more like the passage than the question does; the
question's own vector is averaged in so a wrong hypothesis cannot take the search elsewhere.
Routing picks the index whose description is closest to the question.
"""

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmforge.rag.embed import Embedder
from lmforge.rag.retrieve import Query

MULTI_PROMPT = (
    "Rewrite the question below in {n} different ways that keep its meaning. "
    "Write one rewrite per line, with no numbering and nothing else.\n\nQuestion: {query}"
)
HYDE_PROMPT = "Write a short passage that answers the question.\n\nQuestion: {query}"
_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")


def paraphrases(text: str, n: int, query: str) -> list[str]:
    """Up to n distinct non-empty lines of `text`, numbering stripped, the query itself dropped."""
    out: list[str] = []
    for line in text.splitlines():
        line = _NUMBERING.sub("", line).strip().strip('"')
        if line and line.lower() != query.lower() and line not in out:
            out.append(line)
    return out[:n]


class MultiQuery:
    def __init__(self, generator: Any, embedder: Embedder, n: int = 3, max_tokens: int = 96):
        self.gen, self.embedder, self.n, self.max_tokens = generator, embedder, n, max_tokens

    def __call__(self, query: str) -> list[Query]:
        text = self.gen.generate(MULTI_PROMPT.format(n=self.n, query=query), self.max_tokens)
        texts = [query, *paraphrases(str(text), self.n, query)]
        vecs = self.embedder.encode(texts)
        return [Query(t, v, t) for t, v in zip(texts, vecs, strict=True)]


class HyDE:
    def __init__(self, generator: Any, embedder: Embedder, max_tokens: int = 96):
        self.gen, self.embedder, self.max_tokens = generator, embedder, max_tokens

    def __call__(self, query: str) -> list[Query]:
        hypo = str(self.gen.generate(HYDE_PROMPT.format(query=query), self.max_tokens))
        q, h = self.embedder.encode([query, hypo])
        v = q + h
        v = v / max(float(np.linalg.norm(v)), 1e-12)
        return [Query(query, v.astype(np.float32), f"{query} {hypo}")]


@dataclass(slots=True)
class Route:
    name: str
    description: str
    target: Any  # usually a Retriever


class Router:
    """Sends a query to the route whose description embedding is most similar to it."""

    def __init__(self, routes: list[Route], embedder: Embedder) -> None:
        assert routes, "a router needs at least one route"
        self.routes, self.embedder = routes, embedder
        self.vectors = embedder.encode([r.description for r in routes])

    def pick(self, query: str) -> Route:
        sims = self.vectors @ self.embedder.encode([query])[0]
        return self.routes[int(np.argmax(sims))]
