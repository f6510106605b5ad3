"""Claim verifiers: is a claim supported by its evidence? One score in [0, 1] per claim.

- `NLIVerifier`: a cross-encoder fine-tuned in-project from the shipped MiniLM on planted
  claims (`lmforge rag train-verifier`, rag/verifier_train.py); score = sigmoid of its logit.
- `GeneratorVerifier`: the answering LLM asked "supported?". With `constrained` (a generator
  with `generate_json`: lmforge's engine, or the server's engine through serve/rag.py), the
  reply is decoded under the JSON schema `VERDICT_SCHEMA` by llguidance, so every verdict is a
  `{"supported": true|false}` object that parses; without, it answers in free text, parsed by
  its first yes/no word. A reply that still does not parse is re-asked once and then counted as
  `unparseable` (scored unsupported, never dropped).
  In a self-check (`scores_in_answer`, a generator with `generate_choice`) the judge is cheaper:
  each claim's question is a third chat turn after the answer's own prompt and the answer, so
  every claim of an answer shares that prefix, which the engine's prefix cache still holds from
  generating the answer (only the question is prefilled), and the verdict is one token, "yes"
  or "no", decoded under a `choice` constraint. All claims go to the engine as one batch.
- `OverlapVerifier`: share of the claim's content tokens present in the premise (a baseline).

Every verifier sees the same premise (claims.find_evidence), so they differ only in judgement.
"""

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from lmforge.errors import LMForgeError
from lmforge.extras import require
from lmforge.rag.claims import Claim, Evidence, content_tokens, find_evidence

VERIFY_PROMPT = (
    "Context: {premise}\n\nStatement: {claim}\n\n"
    "Is the statement fully supported by the context (same numbers, names and meaning)? "
    "Answer yes or no."
)
REASK = "\n\nReply with the single word yes or no."
JSON_PROMPT = (
    "Context: {premise}\n\nStatement: {claim}\n\n"
    "Is the statement fully supported by the context (same numbers, names and meaning)? "
    'Reply in JSON: {{"supported": true}} or {{"supported": false}}.'
)
IN_ANSWER_PROMPT = (
    'Check this statement of your answer against the context above: "{claim}"\n'
    "Is it fully supported by the context (same numbers, names and meaning)? Answer yes or no."
)
VERDICT_CHOICES = ["yes", "no"]
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"supported": {"type": "boolean"}},
    "required": ["supported"],
    "additionalProperties": False,
}


@dataclass(slots=True)
class ClaimVerdict:
    claim: str
    supported: bool
    score: float
    status: str  # "ok" | "unparseable"
    chunk: int  # evidence: 1-based chunk, character span in it, and its text
    start: int
    end: int
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Verifier(Protocol):
    threshold: float

    def scores(self, claims: list[str], premises: list[str]) -> list[float | None]:
        """P(supported) per (claim, premise); None when the judge gave no usable answer."""
        ...


def verify(
    verifier: Verifier,
    claims: list[Claim],
    chunks: list[str],
    answer: tuple[str, str] | None = None,
) -> list[ClaimVerdict]:
    """A verdict with its evidence span for each claim against the chunk texts. `answer`, the
    (prompt, answer) the claims come from, lets a verifier with `scores_in_answer` judge them
    in that conversation (the generator judge reuses its KV cache)."""
    found: list[Evidence] = [find_evidence(c, chunks) for c in claims]
    texts, premises = [c.text for c in claims], [e.premise for e in found]
    raw: list[float | None] = []
    if claims and answer is not None and hasattr(verifier, "scores_in_answer"):
        raw = verifier.scores_in_answer(texts, premises, *answer)
    elif claims:
        raw = verifier.scores(texts, premises)
    out = []
    for c, e, s in zip(claims, found, raw, strict=True):
        score = 0.0 if s is None else min(1.0, max(0.0, float(s)))
        span = chunks[e.chunk - 1][e.start : e.end].strip() if e.chunk else ""
        out.append(
            ClaimVerdict(
                c.text,
                s is not None and score >= verifier.threshold,
                round(score, 4),
                "ok" if s is not None else "unparseable",
                e.chunk,
                e.start,
                e.end,
                span,
            )
        )
    return out


def verifier_manifest(path: Path) -> dict[str, Any]:
    """`lmforge-verifier.json` of the verifier at `path`; a one-line error naming the file when
    it is missing or is not a JSON object."""
    file = path / "lmforge-verifier.json"
    if not file.is_file():
        raise LMForgeError(
            f"verifier_path: {path} is not a trained claim verifier "
            f"(no {file}); train one with `lmforge rag train-verifier {path}`"
        )
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        info = e
    if not isinstance(info, dict):
        why = str(info).splitlines()[0] if isinstance(info, Exception) else "not a JSON object"
        raise LMForgeError(
            f"{file}: corrupt verifier manifest ({why}); "
            f"retrain with `lmforge rag train-verifier {path}`"
        )
    return info


def dev_threshold(path: Path, checks: bool = True) -> float:
    """The threshold `train-verifier` chose on dev for this verifier (with or without the
    consistency check); a one-line error naming the file when it has none."""
    file, key = path / "lmforge-verifier.json", "threshold" if checks else "threshold_no_checks"
    value = verifier_manifest(path).get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise LMForgeError(
            f"{file}: no dev-chosen {key!r} in [0, 1] (a verifier trained before thresholds "
            f"were written?); retrain with `lmforge rag train-verifier {path}` or set "
            "verifier_threshold"
        )
    return float(value)


class NLIVerifier:
    """The trained cross-encoder. `threshold` None: the one chosen on dev when it was trained
    (`dev_threshold`; `checks` says whether its scores go through `ConsistencyVerifier`, which
    has its own dev threshold). A given threshold (config override) wins."""

    def __init__(
        self,
        path: str | Path,
        threshold: float | None = None,
        batch_size: int = 32,
        checks: bool = True,
    ) -> None:
        st = require("rag", "sentence_transformers")
        path = Path(path)
        if threshold is None:
            threshold = dev_threshold(path, checks)
        else:
            verifier_manifest(path)  # still a trained verifier, even with the threshold given
        self.threshold = threshold
        self.model: Any = st.CrossEncoder(str(path), device="cpu")
        self.batch_size = batch_size

    def scores(self, claims: list[str], premises: list[str]) -> list[float | None]:
        import numpy as np
        import torch

        pairs = list(zip(claims, premises, strict=True))
        logits = self.model.predict(  # raw logits: the same sigmoid whatever the model's default
            pairs,
            batch_size=self.batch_size,
            show_progress_bar=False,
            activation_fn=torch.nn.Identity(),
        )
        return [float(1 / (1 + np.exp(-x))) for x in np.asarray(logits, dtype=float).reshape(-1)]


class OverlapVerifier:
    def __init__(self, threshold: float = 0.9) -> None:
        self.threshold = threshold

    def scores(self, claims: list[str], premises: list[str]) -> list[float | None]:
        out: list[float | None] = []
        for c, p in zip(claims, premises, strict=True):
            want = content_tokens(c)
            out.append(len(want & content_tokens(p)) / max(1, len(want)))
        return out


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PROPER = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{2,}\b")


def _numbers(text: str) -> set[str]:
    out = set()
    for n in _NUMBER.findall(text):
        n = n.replace(",", "")
        out.add(n.rstrip("0").rstrip(".") if "." in n else n)
    return out


class ConsistencyVerifier:
    """`inner`'s score, but 0 when the claim has a number or a mid-sentence proper name that
    the premise lacks. A claim that states a figure or a name its evidence never mentions is
    unsupported whatever a small model thinks; a derived figure (a sum the answer computed)
    is flagged too, which is the price of this check (docs/grounding.md)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.threshold = inner, inner.threshold
        if hasattr(inner, "scores_in_answer"):
            self.scores_in_answer = self._in_answer

    def scores(self, claims: list[str], premises: list[str]) -> list[float | None]:
        return self._veto(claims, premises, self.inner.scores(claims, premises))

    def _in_answer(
        self, claims: list[str], premises: list[str], prompt: str, answer: str
    ) -> list[float | None]:
        raw = self.inner.scores_in_answer(claims, premises, prompt, answer)
        return self._veto(claims, premises, raw)

    def _veto(
        self, claims: list[str], premises: list[str], raw: list[float | None]
    ) -> list[float | None]:
        out: list[float | None] = []
        for c, p, s in zip(claims, premises, raw, strict=True):
            names = set(_PROPER.findall(c)) - set(re.findall(r"[A-Z][a-z]{2,}", p))
            out.append(0.0 if (_numbers(c) - _numbers(p)) or names else s)
        return out


def parse_yes_no(text: str) -> float | None:
    m = re.search(r"\b(yes|no|supported|unsupported|not supported)\b", text.lower())
    if m is None:
        return None
    return 1.0 if m.group(1) in ("yes", "supported") else 0.0


def parse_verdict(text: str) -> float | None:
    """1.0 / 0.0 from a `VERDICT_SCHEMA` reply; None if it is not one (a cut-off reply)."""
    try:
        got = json.loads(text)
    except ValueError:
        return None
    ok = isinstance(got, dict) and isinstance(got.get("supported"), bool)
    return float(got["supported"]) if ok else None


class GeneratorVerifier:
    """The generator as judge: JSON-schema-constrained where it can be, else free text."""

    def __init__(
        self,
        generator: Any,
        constrained: bool = True,
        max_tokens: int = 24,
        in_answer: bool = True,
    ) -> None:
        self.gen, self.max_tokens, self.threshold = generator, max_tokens, 0.5
        self.constrained = constrained and hasattr(generator, "generate_json")
        self.in_answer = in_answer and hasattr(generator, "generate_choice")

    def _ask(self, prompts: list[str]) -> list[float | None]:
        if self.constrained:
            replies = self.gen.generate_json(prompts, VERDICT_SCHEMA, self.max_tokens)
            return [parse_verdict(r) for r in replies]
        return [parse_yes_no(str(self.gen.generate(p, self.max_tokens))) for p in prompts]

    def scores_in_answer(
        self, claims: list[str], premises: list[str], prompt: str, answer: str
    ) -> list[float | None]:
        """Each claim judged as a follow-up turn to (`prompt`, `answer`): a shared, cached
        prefix and a one-token verdict. A generator without `generate_choice` is asked as in
        `scores`, against each claim's premise, and so is every claim without `in_answer`."""
        if not self.in_answer:
            return self.scores(claims, premises)
        head = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        chats = [
            [*head, {"role": "user", "content": IN_ANSWER_PROMPT.format(claim=c)}] for c in claims
        ]
        replies = self.gen.generate_choice(chats, VERDICT_CHOICES)
        return [{"yes": 1.0, "no": 0.0}.get(r.strip()) for r in replies]

    def scores(self, claims: list[str], premises: list[str]) -> list[float | None]:
        template = JSON_PROMPT if self.constrained else VERIFY_PROMPT
        pairs = zip(claims, premises, strict=True)
        prompts = [template.format(premise=p, claim=c) for c, p in pairs]
        out = self._ask(prompts)
        retry = [i for i, v in enumerate(out) if v is None]
        if retry:  # one re-ask (the format spelled out); still nothing -> None, counted
            extra = "" if self.constrained else REASK
            for i, v in zip(retry, self._ask([prompts[i] + extra for i in retry]), strict=True):
                out[i] = v
        return out
