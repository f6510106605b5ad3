"""LLM-as-a-judge on any backend (usually an OpenAI-compatible server).

Single-answer grading asks for a rating against a rubric (MT-Bench's "[[rating]]" format);
pairwise comparison asks for "[[A]]", "[[B]]" or "[[C]]" (tie) and runs both orders, because
judges prefer a position: a win counts only if it survives the swap, a disagreement is a tie.
Replies are parsed leniently (several formats, see the parsers); an unparseable reply is asked
again with a reminder of the format, up to `retries` times, and if it still fails it is recorded
as unparseable (value None) and left out of averages, which therefore never become NaN.

A backend that can decode under a JSON Schema (`structured`: the engine, an OpenAI-compatible
server with `response_format`) is asked for the verdict as JSON instead, {"explanation": ...,
"rating": <lo..hi>} or {"explanation": ..., "verdict": "A"|"B"|"C"}, with the explanation's
length bounded so the object always closes within `max_new_tokens`: every verdict parses.
"""

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from lmforge.eval.backends.base import Backend, GenRequest

SINGLE_PROMPT = """Please act as an impartial judge and grade the response to the question below.
Rubric: {rubric}

[Question]
{question}
{reference}[Response]
{answer}

Explain briefly, then give a rating from {lo} to {hi} in exactly this format: "Rating: [[5]]"."""

PAIR_PROMPT = """Please act as an impartial judge and decide which of two responses answers the
question better. Rubric: {rubric}

[Question]
{question}

[Response A]
{a}

[Response B]
{b}

Explain briefly, then give your verdict in exactly this format: "[[A]]" if A is better, "[[B]]"
if B is better, "[[C]]" for a tie."""

REMINDER = (
    "\n\nYour previous reply could not be parsed. "
    "End your reply with the verdict in the exact format asked."
)
DEFAULT_RUBRIC = "helpfulness, correctness, relevance and level of detail."
JSON_ASK = (
    "Reply with only a JSON object: a short explanation (at most {chars} characters) and then "
    'your {field}, as {{"explanation": "...", "{field}": {example}}}.'
)


def verdict_schema(field: str, value: dict[str, Any], chars: int) -> dict[str, Any]:
    """The JSON Schema of a constrained verdict: a bounded explanation, then the value."""
    return {
        "type": "object",
        "properties": {"explanation": {"type": "string", "maxLength": chars}, field: value},
        "required": ["explanation", field],
        "additionalProperties": False,
    }


def json_field(field: str, fallback: Callable[[str], Any]) -> Callable[[str], Any]:
    """Parser of a constrained reply: the field's value; `fallback` for a server that ignored
    `response_format` and answered in free text."""

    def parse(text: str) -> Any:
        try:
            return json.loads(text)[field]
        except (ValueError, KeyError, TypeError):
            return fallback(text)

    return parse


def parse_rating(text: str, lo: float = 1, hi: float = 10) -> float | None:
    """'[[7]]', 'Rating: 7', 'rating 7/10', or a reply that is only a number; in [lo, hi]."""
    for pattern in (
        r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]",
        r"[Rr]ating\s*[:=]?\s*\**\s*(\d+(?:\.\d+)?)",
        r"(\d+(?:\.\d+)?)\s*/\s*" + re.escape(str(int(hi))) + r"\b",
        r"^\s*(\d+(?:\.\d+)?)\s*\.?\s*$",
    ):
        matches = re.findall(pattern, text)
        if matches:
            value = float(matches[-1])
            return value if lo <= value <= hi else None
    return None


def parse_choice(text: str, options: tuple[str, ...]) -> str | None:
    """The last '[[X]]' with X in options (case-insensitive), else a reply that is only X."""
    opts = "|".join(re.escape(o) for o in options)
    found = re.findall(rf"\[\[\s*({opts})\s*\]\]", text, flags=re.IGNORECASE)
    if found:
        return found[-1].upper()
    bare = re.fullmatch(rf"\W*({opts})\W*", text.strip(), flags=re.IGNORECASE)
    return bare.group(1).upper() if bare else None


@dataclass(slots=True)
class Verdict:
    value: Any  # None when unparseable
    status: str  # "ok" | "unparseable"
    attempts: int
    raw: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Judge:
    __slots__ = ("backend", "max_new_tokens", "retries")

    def __init__(self, backend: Backend, retries: int = 2, max_new_tokens: int = 512) -> None:
        self.backend, self.retries, self.max_new_tokens = backend, retries, max_new_tokens

    @property
    def structured(self) -> bool:
        return bool(getattr(self.backend, "structured", False))

    @property
    def explanation_chars(self) -> int:
        # A character is at most ~2 tokens even escaped; 40 tokens cover the JSON around it.
        return max(10, min(400, (self.max_new_tokens - 40) // 2))

    def ask(
        self,
        prompts: list[str],
        parse: Callable[[str], Any],
        schema: dict[str, Any] | None = None,
    ) -> list[Verdict]:
        """Batched questions; unparsed replies are re-asked (with a reminder) up to `retries`."""
        verdicts = [Verdict(None, "unparseable", 0, []) for _ in prompts]
        pending = list(range(len(prompts)))
        for attempt in range(self.retries + 1):
            if not pending:
                break
            suffix = REMINDER if attempt else ""
            reqs = [
                GenRequest(
                    prompts[i] + suffix,
                    chat=True,
                    max_new_tokens=self.max_new_tokens,
                    seed=attempt,
                    json_schema=schema,
                )
                for i in pending
            ]
            replies = self.backend.generate(reqs)
            still = []
            for i, reply in zip(pending, replies, strict=True):
                v = verdicts[i]
                v.attempts += 1
                v.raw.append(reply[0])
                value = parse(reply[0])
                if value is None:
                    still.append(i)
                else:
                    v.value, v.status = value, "ok"
            pending = still
        return verdicts

    def grade(
        self,
        questions: list[str],
        answers: list[str],
        rubric: str = DEFAULT_RUBRIC,
        references: list[str] | None = None,
        lo: int = 1,
        hi: int = 10,
    ) -> list[Verdict]:
        refs = references or [""] * len(questions)
        prompts = [
            SINGLE_PROMPT.format(
                rubric=rubric,
                question=q,
                answer=a,
                lo=lo,
                hi=hi,
                reference=f"[Reference answer]\n{r}\n" if r else "",
            )
            for q, a, r in zip(questions, answers, refs, strict=True)
        ]
        if self.structured:
            chars = self.explanation_chars
            ask = JSON_ASK.format(chars=chars, field="rating", example=lo)
            prompts = [p.replace(p[p.rindex("Explain briefly") :], ask) for p in prompts]
            value = {"type": "integer", "minimum": lo, "maximum": hi}
            parse = json_field("rating", lambda t: parse_rating(t, lo, hi))
            return self.ask(prompts, parse, verdict_schema("rating", value, chars))
        return self.ask(prompts, lambda t: parse_rating(t, lo, hi))

    def pairwise(
        self,
        questions: list[str],
        first: list[str],
        second: list[str],
        rubric: str = DEFAULT_RUBRIC,
    ) -> list[dict[str, Any]]:
        """Per question: winner 'first', 'second', 'tie' or None (unparseable); both orders."""
        n = len(questions)
        prompts = [
            PAIR_PROMPT.format(rubric=rubric, question=q, a=x, b=y)
            for q, x, y in zip(questions, first, second, strict=True)
        ]
        prompts += [
            PAIR_PROMPT.format(rubric=rubric, question=q, a=y, b=x)
            for q, x, y in zip(questions, first, second, strict=True)
        ]
        if self.structured:
            chars = self.explanation_chars
            ask = JSON_ASK.format(chars=chars, field="verdict", example='"A"') + (
                ' "A" if A is better, "B" if B is better, "C" for a tie.'
            )
            prompts = [p.replace(p[p.rindex("Explain briefly") :], ask) for p in prompts]
            value = {"enum": ["A", "B", "C"]}
            schema = verdict_schema("verdict", value, chars)
            parse = json_field("verdict", lambda t: parse_choice(t, ("A", "B", "C")))
            verdicts = self.ask(prompts, parse, schema)
        else:
            verdicts = self.ask(prompts, lambda t: parse_choice(t, ("A", "B", "C")))
        out = []
        for i in range(n):
            v1, v2 = verdicts[i], verdicts[n + i]
            one = {"A": "first", "B": "second", "C": "tie"}.get(v1.value)
            two = {"A": "second", "B": "first", "C": "tie"}.get(v2.value)  # swapped order
            agreed = one if one == two else "tie"
            winner = None if one is None or two is None else agreed
            out.append({"winner": winner, "order_1": v1.to_dict(), "order_2": v2.to_dict()})
        return out


def mean_ok(values: list[float | None]) -> dict[str, Any]:
    """Mean over parsed values only, with counts; None (not NaN) when nothing parsed."""
    ok = [v for v in values if v is not None]
    return {
        "mean": sum(ok) / len(ok) if ok else None,
        "n": len(ok),
        "unparseable": len(values) - len(ok),
    }


def win_rate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of 'first' wins (ties count half) over the comparisons that parsed."""
    scores = [{"first": 1.0, "second": 0.0, "tie": 0.5}.get(r["winner"]) for r in results]
    return mean_ok(scores)
