"""Agent fixtures: a scripted stand-in for the OpenAI endpoint and a rules-only guard."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from lmforge.guard.config import ContextPolicy, GuardPolicy, InputPolicy, ScannerPolicy
from lmforge.guard.guard import Guard

Step = Callable[[list[dict[str, Any]]], dict[str, Any]] | dict[str, Any]


def call(name: str, **args: Any) -> dict[str, Any]:
    """A model message that calls one tool."""
    return calls((name, args))


def calls(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    tcs = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": n, "arguments": json.dumps(a)},
        }
        for i, (n, a) in enumerate(pairs)
    ]
    return {"role": "assistant", "content": None, "tool_calls": tcs}


def say(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


class ScriptedClient:
    """Answers each chat request with the next scripted message (or a function of the history)
    and keeps every request, so tests can check what the model was shown."""

    def __init__(self, *steps: Step, tokens: int = 10) -> None:
        self.steps, self.tokens = list(steps), tokens
        self.requests: list[dict[str, Any]] = []

    def chat(self, messages: list[dict[str, Any]], timeout_s: float, **kw: Any) -> dict[str, Any]:
        self.requests.append({"messages": json.loads(json.dumps(messages)), **kw})
        step = self.steps.pop(0) if self.steps else say("done")
        msg = step(messages) if callable(step) else step
        usage = {"prompt_tokens": self.tokens - 1, "completion_tokens": 1}
        usage["total_tokens"] = self.tokens
        return {"choices": [{"message": msg, "finish_reason": "stop"}], "usage": usage}

    def shown(self, i: int) -> list[str]:
        return [t["function"]["name"] for t in self.requests[i].get("tools", [])]

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def rules_guard() -> Guard:
    """The guard with its rules scanner only (no MiniLM): fast, and deterministic."""
    off = ScannerPolicy(enabled=False)
    return Guard(
        GuardPolicy(input=InputPolicy(classifier=off), context=ContextPolicy(classifier=off))
    )
