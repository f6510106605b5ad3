"""The served model as an AgentDojo pipeline element, with lmforge's model-side reading.

AgentDojo's `OpenAILLM` takes only the endpoint's tool-call syntax as a call. Small models
often write a bare JSON object instead and then repeat the same call; lmforge's own loop
(`lmforge.agent.barecall`) reads the first as a call and does not rerun the second. The same
reading is applied here, in *both* arms (it is how the model's output is read, not a defence),
so the arms differ only by lmforge's policy and guard:

- a bare JSON object that calls a tool the runtime offers becomes that call (in the lmforge
  arm the runtime holds only granted tools, and the call still meets the gate next);
- a call identical to one that already ran (or to another in the same step) is not run
  again; when a step holds only such calls, the model reads a notice and is asked once more
  without tools, so it must answer.

The element also keeps the last conversation, so the bench can record what the model did.
"""

import json
from collections.abc import Sequence
from typing import Any

from agentdojo.agent_pipeline.base_pipeline_element import BasePipelineElement
from agentdojo.functions_runtime import FunctionCall, FunctionsRuntime
from agentdojo.types import (
    ChatToolResultMessage,
    get_text_content_as_str,
    text_content_block_from_string,
)

from agent_dojo_obedient import _key
from lmforge.agent.barecall import NOT_RERUN, call_key, parse_bare_call

REFUSED = "[refused by policy]"


def ran_keys(messages: Any) -> set[tuple[str, str]]:
    """Calls whose result is in the history and that were not refused (they ran)."""
    out: set[tuple[str, str]] = set()
    for m in messages:
        ok = not (m.get("error") or "").startswith(REFUSED)
        if m["role"] == "tool" and m.get("tool_call") is not None and ok:
            c = m["tool_call"]
            out.add(call_key(c.function, dict(c.args)))
    return out


def replayable(completion: Any) -> Any:
    """A call cut short by `max_tokens` (arguments not a JSON object) would make AgentDojo's
    reader raise and end the task; as in lmforge's loop (`runtime._replayable`) its arguments
    become `{}`, so the tool reports what is missing and the model reads that."""
    for choice in completion.choices:
        for c in choice.message.tool_calls or []:
            try:
                ok = isinstance(json.loads(c.function.arguments or ""), dict)
            except json.JSONDecodeError:
                ok = False
            if not ok:
                c.function.arguments = "{}"
    return completion


def ran_calls(messages: Sequence[Any]) -> list[Any]:
    """The calls that ran, for AgentDojo's trace-judged checks (slack's injection 5 reads the
    model's calls, not the environment): its own trace lists every call the model *made*, so a
    call lmforge refused, which never ran, would count as done. Undefended runs refuse none."""
    refused = {
        _key(m["tool_call"])
        for m in messages
        if m["role"] == "tool" and (m.get("error") or "").startswith(REFUSED)
    }
    return [
        c
        for m in messages
        if m["role"] == "assistant"
        for c in m["tool_calls"] or []
        if _key(c) not in refused
    ]


class ServedModel(BasePipelineElement):
    """`llm` (AgentDojo's OpenAILLM on lmforge serve) with bare calls read and repeats cut."""

    def __init__(self, llm: BasePipelineElement) -> None:
        self.llm, self.name = llm, llm.name
        self.last: list[Any] = []  # the conversation after the latest step
        self.stats = {"bare_calls": 0, "repeats": 0}

    def query(self, query, runtime, env, messages=(), extra_args=None):
        query, _, env, out, extra_args = self.llm.query(query, runtime, env, messages, extra_args)
        out = list(out)
        msg = dict(out[-1])
        if not msg.get("tool_calls"):
            text = get_text_content_as_str(msg.get("content") or [])
            found = parse_bare_call(text, set(runtime.functions))
            if found is not None:
                self.stats["bare_calls"] += 1
                name, args = found
                msg["tool_calls"] = [FunctionCall(function=name, args=args, id=f"bare-{len(out)}")]
                msg["content"] = [text_content_block_from_string("")]
                out[-1] = msg
        if msg.get("tool_calls"):
            done = ran_keys(out)
            calls = list(msg["tool_calls"])
            new = []
            for c in calls:  # a call already run, or twice in this step, runs once
                key = call_key(c.function, dict(c.args))
                if key not in done:
                    done.add(key)
                    new.append(c)
            if new and len(new) < len(calls):  # the repeats are dropped, the new calls run
                self.stats["repeats"] += len(calls) - len(new)
                out[-1] = dict(msg) | {"tool_calls": new}
            elif not new:  # only repeats: a notice, then one step without tools
                self.stats["repeats"] += len(calls)
                for c in calls:
                    out.append(
                        ChatToolResultMessage(
                            role="tool",
                            content=[text_content_block_from_string(NOT_RERUN)],
                            tool_call_id=c.id,
                            tool_call=c,
                            error=None,
                        )
                    )
                query, _, env, out, extra_args = self.llm.query(
                    query, FunctionsRuntime([]), env, out, extra_args
                )
                out = list(out)
        self.last = out
        return query, runtime, env, out, extra_args


def summary(messages: Any, limit: int = 300) -> dict[str, Any]:
    """What the model did in one run: its calls (tool and arguments, refused or not) and its
    final text, short enough for one JSONL row."""
    calls, refused = [], 0
    for m in messages:
        if m["role"] == "assistant":
            for c in m.get("tool_calls") or []:
                calls.append(f"{c.function}({str(dict(c.args))[:120]})")
        elif m["role"] == "tool" and (m.get("error") or "").startswith(REFUSED):
            refused += 1
    final = ""
    if messages and messages[-1]["role"] == "assistant":
        final = get_text_content_as_str(messages[-1].get("content") or [])[:limit]
    return {"calls": calls, "refused_calls": refused, "final": final}
