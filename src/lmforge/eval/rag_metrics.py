"""RAG metrics on (question, contexts, answer, reference), judged by an LLM (RAGAS definitions).

- faithfulness: the judge splits the answer into claims; each claim is checked against the
  contexts; score = supported claims / claims.
- answer relevance: the judge rates 1-5 how directly the answer addresses the question, mapped
  to [0, 1]. (RAGAS uses embeddings of questions generated back from the answer; a direct
  rating needs no embedder and keeps every metric on one judge.)
- context precision: per retrieved context, is it useful for reaching the reference answer?
  score = sum_k precision@k * rel_k / number of relevant contexts (rank-aware: useful contexts
  ranked first score higher); 0 when none is useful.
- context recall: the reference is split into sentences; each is checked against the contexts;
  score = attributable sentences / sentences.

Every judgement goes through Judge.ask (retries, unparseable recorded); an item whose
judgements did not parse gets None for that metric and is left out of its mean.
"""

import re
from dataclasses import dataclass
from typing import Any

from lmforge.eval.judge import Judge, mean_ok, parse_choice, parse_rating

CLAIMS_PROMPT = """Break the answer below into short, self-contained factual claims, one per line,
each line starting with "- ". Output only the list.

Question: {question}
Answer: {answer}"""

SUPPORT_PROMPT = """Context:
{context}

Statement: {statement}

Can the statement be inferred from the context alone? Explain in one sentence, then answer
[[YES]] or [[NO]]."""

USEFUL_PROMPT = """Question: {question}
Reference answer: {reference}
Retrieved context: {context}

Is this context useful for arriving at the reference answer? Explain in one sentence, then
answer [[YES]] or [[NO]]."""

RELEVANCE_PROMPT = """Question: {question}
Answer: {answer}

How directly and completely does the answer address the question (ignore whether it is true)?
Give a rating from 1 to 5 in exactly this format: "Rating: [[3]]"."""


@dataclass(slots=True, frozen=True)
class RagSample:
    question: str
    contexts: list[str]
    answer: str
    reference: str


def parse_claims(text: str) -> list[str] | None:
    claims = [m.strip() for m in re.findall(r"^\s*(?:[-*•]|\d+[.)])\s+(.+)$", text, re.MULTILINE)]
    return claims or None


def _yes(text: str) -> float | None:
    v = parse_choice(text, ("YES", "NO"))
    return None if v is None else float(v == "YES")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def _fraction(verdicts: list[Any]) -> float | None:
    if not verdicts or any(v.value is None for v in verdicts):
        return None
    return sum(v.value for v in verdicts) / len(verdicts)


def _precision(verdicts: list[Any]) -> float | None:
    if not verdicts or any(v.value is None for v in verdicts):
        return None
    rel = [v.value for v in verdicts]
    if not sum(rel):
        return 0.0
    hits, total = 0.0, 0.0
    for k, r in enumerate(rel, 1):
        hits += r
        total += hits / k * r
    return total / sum(rel)


def rag_scores(judge: Judge, samples: list[RagSample]) -> dict[str, Any]:
    """Per-sample scores and their means (over samples whose judgements parsed)."""
    claims = judge.ask(
        [CLAIMS_PROMPT.format(question=s.question, answer=s.answer) for s in samples], parse_claims
    )
    # One batch of yes/no questions for claims, contexts and reference sentences of every sample.
    prompts: list[str] = []
    spans: list[dict[str, tuple[int, int]]] = []
    for s, c in zip(samples, claims, strict=True):
        joined = "\n\n".join(s.contexts)
        span: dict[str, tuple[int, int]] = {}
        for name, texts, template in (
            ("faith", c.value or [], SUPPORT_PROMPT),
            ("recall", sentences(s.reference), SUPPORT_PROMPT),
        ):
            span[name] = (len(prompts), len(prompts) + len(texts))
            prompts += [template.format(context=joined, statement=t) for t in texts]
        span["precision"] = (len(prompts), len(prompts) + len(s.contexts))
        prompts += [
            USEFUL_PROMPT.format(question=s.question, reference=s.reference, context=ctx)
            for ctx in s.contexts
        ]
        spans.append(span)
    yes_no = judge.ask(prompts, _yes)
    relevance = judge.ask(
        [RELEVANCE_PROMPT.format(question=s.question, answer=s.answer) for s in samples],
        lambda t: parse_rating(t, 1, 5),
    )
    items = []
    for s, c, span, rel in zip(samples, claims, spans, relevance, strict=True):
        part = {k: yes_no[a:b] for k, (a, b) in span.items()}
        items.append(
            {
                "question": s.question,
                "claims": c.value,
                "faithfulness": _fraction(part["faith"]) if c.value else None,
                "answer_relevance": None if rel.value is None else (rel.value - 1) / 4,
                "context_precision": _precision(part["precision"]),
                "context_recall": _fraction(part["recall"]),
            }
        )
    names = ("faithfulness", "answer_relevance", "context_precision", "context_recall")
    return {"items": items, "scores": {m: mean_ok([it[m] for it in items]) for m in names}}
