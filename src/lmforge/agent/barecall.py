"""Tool calls that small models write as text, and calls they repeat.

Small instruct models (SmolLM2-135M, Qwen2.5-Coder-1.5B) often answer a tool-call turn with a
bare JSON object (`{"name": "get_balance", "arguments": {}}`) instead of the endpoint's
tool-call syntax, and then loop on the same call. Read as an answer, that text ends the run
with a JSON blob for an answer; so a bare object that names a tool *offered* to the model is
read as that call and goes through the same policy gate as any other. A tool that was not
offered stays text: a bare object cannot reach a tool the policy hid.

The loop guard: a call identical (same tool, same arguments) to one that already ran is not
run again (an effect such as a payment must not happen twice because the model repeated
itself); the model is told so and its next step is asked without tools, so it must answer.
"""

import json
import re
from collections.abc import Collection
from typing import Any

NOT_RERUN = (
    "[not rerun] this exact call already ran; its result is above. Do not call it again: "
    "answer the user now."
)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.S)
_TAG = re.compile(r"^<tool_call>\s*(.*?)\s*(?:</tool_call>)?$", re.S)


def _strip(text: str) -> str:
    text = text.strip()
    for pat in (_FENCE, _TAG):
        m = pat.match(text)
        if m:
            text = m.group(1).strip()
    return text


def parse_bare_call(content: Any, offered: Collection[str]) -> tuple[str, dict[str, Any]] | None:
    """`(tool, arguments)` when `content` is, as a whole, one JSON object calling an offered tool.

    Accepted shapes (those small models write): `{"name", "arguments" | "parameters" |
    "args"}`, `{"function": {"name", "arguments"}}`, `{"tool", "arguments"}`; the arguments
    may be an object or a JSON string holding one. A code fence or a `<tool_call>` tag around
    the object is allowed; any other text around it makes it an answer, not a call."""
    if not isinstance(content, str) or "{" not in content:
        return None
    try:
        obj = json.loads(_strip(content))
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    fn = obj.get("function")
    if isinstance(fn, dict):
        obj = fn
    name = obj.get("name") or obj.get("tool") or (fn if isinstance(fn, str) else None)
    if not isinstance(name, str) or name not in offered:
        return None
    args: Any = {}
    for key in ("arguments", "parameters", "args"):
        if key in obj:
            args = obj[key]
            break
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None
    if args is None:
        args = {}
    return (name, args) if isinstance(args, dict) else None


def call_key(name: str, arguments: Any) -> tuple[str, str]:
    """A call by what it does: the tool and its arguments in canonical JSON (key order and
    spacing do not make two calls different). Arguments that are not JSON key as written."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return name, arguments
    return name, json.dumps(arguments, sort_keys=True, default=str)
