"""Tool calling: prompts, the call grammar, and reading calls back out of the model's text.

Wire format. Every call the model writes is Hermes/Qwen2.5's

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

(parallel calls: one block per call, joined by a newline). Templates with native tool support
(their Jinja mentions `tools`, e.g. Qwen2.5) get the tool list and past calls through
`apply_chat_template(tools=...)` and were trained on this format; others (SmolLM2) get the
documented fallback: the tool list and this format are written into the system message, past
calls are rendered as these blocks in the assistant turn, and tool results stay `role: "tool"`.

Constraint. `required` and a named choice constrain the whole reply to one call (or several
when `parallel_tool_calls`) of the allowed tools, each call's `arguments` to that tool's
JSON Schema. `auto` is one Lark grammar too: either free text, which may not start with `<`, or
the constrained calls; the model chooses with its first token and, once it opens a call, the
call is constrained from its first character. Tool argument objects that list `properties` and
say nothing about `additionalProperties` are closed (as OpenAI's strict mode does).

Reading. The grammar fixes the bytes around the JSON (separators ", " and ": "), so one
incremental scanner serves both modes: streaming emits each call's name once it is complete and
its `arguments` characters as they arrive; the non-streamed answer runs the same scanner over the
final text, so the two are byte-identical.
"""

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from lmforge.engine.constraint import JSON_DEFAULTS

OPEN, CLOSE = "<tool_call>\n", "\n</tool_call>"
HEAD, MID = '{"name": "', '", "arguments": '
FALLBACK_SYSTEM = (
    "You can call functions. The available functions, as JSON Schemas:\n<tools>\n{tools}\n"
    "</tools>\nTo call a function, reply with only this, nothing before or after:\n"
    '<tool_call>\n{{"name": <function name>, "arguments": <the arguments as a JSON object>}}\n'
    "</tool_call>{parallel}\nIf no function fits, answer in plain text."
)
PARALLEL_NOTE = "\nFor several calls, write one <tool_call> block per call, one per line."


def closed(schema: Any) -> Any:
    """`schema` with every object that lists `properties` closed to other keys."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: closed(v) for k, v in schema["properties"].items()}
        out.setdefault("additionalProperties", False)
    for key in ("$defs", "definitions", "patternProperties"):
        if isinstance(schema.get(key), dict):
            out[key] = {k: closed(v) for k, v in schema[key].items()}
    return out


def _hoist(params: dict[str, Any], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """`params` without its `$defs` / `definitions`, which move into `defs` under `prefix`.

    A tool's parameters are a schema of their own: pydantic writes an enum or a nested model
    as `{"$ref": "#/$defs/Name"}` pointing at the parameters' root. Embedded under `arguments`
    of the call schema, that pointer names the call schema's root, where nothing is, and the
    grammar fails to compile (a 400 for every request offering the tool). So the definitions
    are hoisted to the root, named per tool (two tools may both define `Status`)."""
    moved = {
        f"#/{key}/{name}": f"#/$defs/{prefix}{name}"
        for key in ("$defs", "definitions")
        if isinstance(params.get(key), dict)
        for name in params[key]
    }

    def fix(x: Any) -> Any:
        if isinstance(x, list):
            return [fix(v) for v in x]
        if not isinstance(x, dict):
            return x
        out = {k: fix(v) for k, v in x.items()}
        ref = out.get("$ref")
        if isinstance(ref, str):
            for old, new in moved.items():
                if ref == old or ref.startswith(old + "/"):
                    out["$ref"] = new + ref[len(old) :]
                    break
        return out

    for key in ("$defs", "definitions"):
        for name, sub in (params.get(key) or {}).items():
            defs[f"{prefix}{name}"] = fix(sub)
    return fix({k: v for k, v in params.items() if k not in ("$defs", "definitions")})


def call_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON Schema of one call body: {"name": <one of the tools>, "arguments": {...}}."""
    defs: dict[str, Any] = {}
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t["name"]},
                "arguments": _hoist(
                    closed(t.get("parameters") or {"type": "object"}), f"{t['name']}__", defs
                ),
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    body = options[0] if len(options) == 1 else {"anyOf": options}
    return {"x-guidance": JSON_DEFAULTS, **body, **({"$defs": defs} if defs else {})}


def _tag(text: str, tokenizer: Any) -> str:
    """A call tag as a grammar item: its bytes, or the one token a native template has for it.

    Qwen2.5's vocabulary holds `<tool_call>` as a single added token, which llguidance treats
    as a special token (no bytes), so a bytes-only rule would forbid the very token the model
    was trained to open a call with; `<[id]>` admits it, and it decodes to the same text."""
    lit = json.dumps(text)
    if tokenizer is None:
        return lit
    ids = tokenizer.convert_tokens_to_ids([text])
    unk = getattr(tokenizer, "unk_token_id", None)
    if not ids or ids[0] is None or ids[0] == unk:
        return lit
    return f"({lit} | <[{ids[0]}]>)"


def call_grammar(
    tools: list[dict[str, Any]], parallel: bool, auto: bool, tokenizer: Any = None
) -> str:
    """The Lark grammar (llguidance dialect, `%json` embeds a schema) for the reply."""
    calls = 'call ("\\n" call)*' if parallel else "call"
    open_, close = _tag(OPEN.strip(), tokenizer), _tag(CLOSE.strip(), tokenizer)
    lines = [
        "start: calls | TEXT" if auto else "start: calls",
        f"calls: {calls}",
        f'call: {open_} "\\n" body "\\n" {close}',
        f"body: %json {json.dumps(call_schema(tools))}",
    ]
    if auto:
        lines.append("TEXT: /[^<](?s:.)*/")
    return "\n".join(lines) + "\n"


def native_tools(tokenizer: Any) -> bool:
    """True when the model's chat template renders a `tools` list itself."""
    return "tools" in (getattr(tokenizer, "chat_template", None) or "")


def call_block(name: str, arguments: str) -> str:
    return f"{OPEN}{HEAD}{name}{MID}{arguments}}}{CLOSE}"


def chat_messages(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, native: bool, parallel: bool
) -> list[dict[str, Any]]:
    """OpenAI messages (tool calls, tool results) -> what the chat template is given."""
    out: list[dict[str, Any]] = []
    for m in messages:
        calls = m.get("tool_calls") or []
        if m["role"] == "assistant" and calls:
            if native:
                fn = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {
                            "name": c["function"]["name"],
                            "arguments": json.loads(c["function"]["arguments"]),
                        },
                    }
                    for c in calls
                ]
                out.append({"role": "assistant", "content": m["content"] or "", "tool_calls": fn})
            else:
                blocks = "\n".join(
                    call_block(c["function"]["name"], c["function"]["arguments"]) for c in calls
                )
                text = f"{m['content']}\n{blocks}" if m["content"] else blocks
                out.append({"role": "assistant", "content": text})
        elif m["role"] == "tool":
            msg = {"role": "tool", "content": m["content"] or ""}
            if native and m.get("tool_call_id"):
                msg["tool_call_id"] = m["tool_call_id"]
            out.append(msg)
        else:
            out.append({"role": m["role"], "content": m["content"] or ""})
    if tools and not native:
        listing = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
        note = FALLBACK_SYSTEM.format(tools=listing, parallel=PARALLEL_NOTE if parallel else "")
        if out and out[0]["role"] == "system":
            out[0] = {**out[0], "content": f"{out[0]['content']}\n\n{note}"}
        else:
            out.insert(0, {"role": "system", "content": note})
    return out


def scan_calls(text: str) -> list[tuple[str, str, bool]]:
    """(name, arguments so far, complete) for each call whose name is complete in `text`."""
    out: list[tuple[str, str, bool]] = []
    pos = 0
    while (i := text.find(OPEN + HEAD, pos)) != -1:
        j = i + len(OPEN + HEAD)
        k = text.find('"', j)
        if k == -1:
            break
        a = k + len(MID)
        depth, in_str, esc, end = 0, False, False, None
        for idx in range(a, len(text)):
            ch = text[idx]
            if in_str:
                esc, in_str = (False, True) if esc else (ch == "\\", ch != '"')
            elif ch == '"':
                in_str = True
            elif ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    end = idx + 1
                    break
        out.append(
            (text[j:k], text[a : end or len(text)] if len(text) > a else "", end is not None)
        )
        if end is None:
            break
        pos = end
    return out


@dataclass(slots=True)
class CallStream:
    """One choice's calls as they stream: ids, and how much of each call was already sent."""

    forced: bool  # required / named: the reply is calls from its first byte
    mode: str | None = None  # "calls" or "content", fixed by the first character (auto)
    ids: list[str] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)

    def decide(self, text: str) -> str | None:
        if self.mode is None and (self.forced or text):
            self.mode = "calls" if self.forced or text.startswith("<") else "content"
        return self.mode

    def feed(self, text: str) -> list[dict[str, Any]]:
        """OpenAI `delta.tool_calls` entries for what `text` adds over what was sent."""
        deltas = []
        for n, (name, args, _) in enumerate(scan_calls(text)):
            if n == len(self.ids):
                self.ids.append(f"call_{uuid.uuid4().hex[:24]}")
                self.sent.append(0)
                head = {"name": name, "arguments": ""}
                deltas.append({"index": n, "id": self.ids[n], "type": "function", "function": head})
            if len(args) > self.sent[n]:
                piece = args[self.sent[n] :]
                self.sent[n] = len(args)
                deltas.append({"index": n, "function": {"arguments": piece}})
        return deltas

    def message(self, text: str) -> dict[str, Any]:
        """The non-streamed `message` for the final text."""
        if self.decide(text) != "calls":
            return {"role": "assistant", "content": text}
        self.feed(text)
        calls = [
            {"id": self.ids[n], "type": "function", "function": {"name": name, "arguments": args}}
            for n, (name, args, _) in enumerate(scan_calls(text))
        ]
        return {"role": "assistant", "content": None, "tool_calls": calls}

    def finish_reason(self, text: str, reason: str | None) -> str | None:
        """ "tool_calls" when the reply ended on complete calls."""
        calls = scan_calls(text)
        done = self.mode == "calls" and calls and all(c[2] for c in calls)
        return "tool_calls" if done and reason == "stop" else reason
