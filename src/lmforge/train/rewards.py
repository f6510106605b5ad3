"""Verifiable rewards for RL: GSM8K answer correctness and answer format.

A GSM8K reference answer ends with `#### <number>`. We read the model's final answer as the
number after its last `####`, else the last number in the text (models that have not learned the
format yet still get credit for a right number, which gives GRPO a signal to start from).
"""

import re
from typing import Any

_NUM = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_FINAL = re.compile(r"####\s*(-?\d[\d,]*(?:\.\d+)?)")


def _norm(num: str) -> str:
    num = num.replace(",", "").rstrip(".")
    if "." in num:
        num = num.rstrip("0").rstrip(".")
    return num


def extract_answer(text: str) -> str | None:
    """The final numeric answer in `text`, normalised (no commas, no trailing .0)."""
    finals = _FINAL.findall(text)
    if finals:
        return _norm(finals[-1])
    nums = _NUM.findall(text)
    return _norm(nums[-1]) if nums else None


def _text(completion: Any) -> str:
    """Completion text, whether TRL passes a string or a list of chat messages."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion)
    return str(completion)


def gsm8k_correct(completions: list[Any], answer: list[str], **_: Any) -> list[float]:
    """1.0 where the completion's final number equals the reference's, else 0.0."""
    out = []
    for c, ref in zip(completions, answer, strict=True):
        gold = extract_answer(ref)
        out.append(1.0 if gold is not None and extract_answer(_text(c)) == gold else 0.0)
    return out


def gsm8k_format(completions: list[Any], **_: Any) -> list[float]:
    """1.0 where the completion states its answer as `#### <number>`, else 0.0."""
    return [1.0 if _FINAL.search(_text(c)) else 0.0 for c in completions]


REWARDS = {"gsm8k": [gsm8k_correct, gsm8k_format], "format": [gsm8k_format]}
