"""The semantic cache's grey-zone judge: a local LLM that reads two requests together.

The lexical verifier (gateway/verify.py) refuses every content-word replacement that is not a
WordNet synonym, so rewordings such as "Who wrote X?" / "Who is the author of X?" miss, and no
scorer over the two prompts' separate MiniLM embeddings tells them from the near misses that
swap a word ("larger" / "smaller"): docs/benchmarks.md, gateway, sessions 5-6. A model that
reads both prompts in one context can. The judge is asked only about a candidate already above
the cosine bar that passes `verify.same_structure` (numbers, operators, negations, names,
units and direction equal) and was refused for its words alone, so it can never admit a
changed number or negation. Its output is constrained to one token and read as
P(yes) / (P(yes) + P(no)) from the top logprobs (`cascade.yes_probability`), and the hit
needs P(yes) >= `cache.judge_threshold`, a bar chosen on the dev families of the shipped set
(bench/gateway_cache_judge.py). The request is asked in both orders and the lower P(yes)
counts, because "same request" is symmetric and a small model's answer is not.

The few-shot examples below are written for this prompt and are not in the shipped
paraphrase / near-miss set.
"""

from typing import Any

SYSTEM = (
    "You check whether two requests sent to an assistant ask for exactly the same thing, so "
    "that one answer is correct for both. Rewording, synonyms and different sentence "
    "structure do not matter. A different object, quantity, property, relation, direction "
    "or an opposite word does matter. Reply with one word: yes or no."
)
SHOTS: tuple[tuple[str, str, str], ...] = (
    ("How tall is Mount Fuji?", "What is the height of Mount Fuji?", "yes"),
    ("How do I merge two PDF files?", "How do I split a PDF file in two?", "no"),
    ("Which painter made the Mona Lisa?", "Who painted the Mona Lisa?", "yes"),
    ("How heavy is an adult elephant?", "How old does an adult elephant get?", "no"),
    ("Give me a recipe for pancakes.", "How do I cook pancakes?", "yes"),
    ("Why is the ocean salty?", "Why is the ocean cold?", "no"),
)
QUESTION = "Request A: {a}\nRequest B: {b}\nDo A and B ask for the same thing?"


def judge_messages(a: str, b: str) -> list[dict[str, str]]:
    """Chat messages asking whether `a` and `b` ask for the same thing (few-shot turns)."""
    msgs = [{"role": "system", "content": SYSTEM}]
    for x, y, verdict in SHOTS:
        msgs.append({"role": "user", "content": QUESTION.format(a=x, b=y)})
        msgs.append({"role": "assistant", "content": verdict})
    msgs.append({"role": "user", "content": QUESTION.format(a=a, b=b)})
    return msgs


def judge_request(a: str, b: str) -> dict[str, Any]:
    """The one-token chat request whose top logprobs give P(yes) (the gateway fills `model`)."""
    return {
        "messages": judge_messages(a, b),
        "max_tokens": 1,
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": 10,
    }
