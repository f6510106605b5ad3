"""The post-answer router: P(the cheap answer is right | prompt, cheap answer).

A prompt-only router (`router_model.py`) has to guess from the question alone whether the cheap
model will fail; on a classification task that is the hard part. Once the cheap model has
answered, the question becomes "does this answer agree with what the text looks like", which a
linear model over the prompt's MiniLM embedding can learn: the features are the embedding, the
same embedding signed by the answer (+1 when it is the task's `positive` label, -1 otherwise)
and the sign itself. It is meant for tasks with a two-label answer (a yes/no verdict, a
classification), and it needs only the cheap model's answers and the gold labels to train, so
it can use thousands of items that the strong model never saw. At serving time it costs one
embedding (of `query_text`) after the cheap call (`signal: answer_router` in a cascade route).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from lmforge.gateway.router_model import Router, fit_router

KIND = "answer"


def query_text(body: dict[str, Any]) -> str:
    """The text the router embeds: the last chat message, or a completion prompt's last block
    (after its last blank line). A few-shot prompt repeats the same shots on every request and
    MiniLM reads only its first 256 word pieces, so embedding the whole prompt would embed the
    shots, not the query."""
    if "messages" in body:
        msgs = body.get("messages") or [{}]
        c = msgs[-1].get("content")
        if isinstance(c, list):
            c = "".join(p.get("text") or "" for p in c if isinstance(p, dict))
        return str(c or "")
    p = body.get("prompt", "")
    return (p if isinstance(p, str) else str(p)).rsplit("\n\n", 1)[-1]


def answer_sign(answer: str, positive: str) -> float:
    """+1 when the answer starts with the positive label (case and spaces ignored), else -1."""
    return 1.0 if answer.strip().lower().startswith(positive.strip().lower()) else -1.0


def answer_features(vecs: np.ndarray, answers: Sequence[str], positive: str) -> np.ndarray:
    """[embedding, embedding x sign, sign] per row: the router's input."""
    sign = np.array([answer_sign(a, positive) for a in answers], dtype=np.float32)[:, None]
    return np.hstack([vecs, vecs * sign, sign]).astype(np.float32)


def fit_answer_router(
    vecs: np.ndarray,
    answers: Sequence[str],
    cheap_ok: np.ndarray,
    positive: str,
    embedder_id: str,
    c: float = 1.0,
) -> Router:
    """Class-balanced logistic regression on `answer_features`; `positive` is kept in the
    router's meta so the gateway signs live answers the way training did."""
    r = fit_router(answer_features(vecs, answers, positive), cheap_ok, embedder_id, c=c)
    r.meta.update(kind=KIND, positive=positive)
    return r


def answer_prob(router: Router, vecs: np.ndarray, answers: Sequence[str]) -> np.ndarray:
    """P(cheap answer right) for each (prompt embedding, cheap answer)."""
    return router.prob(answer_features(vecs, answers, str(router.meta["positive"])))
