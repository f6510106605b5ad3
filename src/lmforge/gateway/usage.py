"""Token usage of an answer: from the upstream when it reports it, else counted locally.

Non-streamed bodies carry `usage`. For streams the gateway always asks the upstream for
`stream_options.include_usage`, so the final chunk carries it; an upstream that ignores that
gets its tokens counted here with the backend's tokenizer: the prompt as the chat template
renders it, and the streamed text. A test checks both paths bill streamed = non-streamed.
"""

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class StreamTally:
    """What passed through one stream: the text per choice and the usage, if sent."""

    texts: dict[int, list[str]] = field(default_factory=dict)
    usage: dict[str, int] | None = None
    finished: bool = False

    def feed(self, line: bytes) -> bool:
        """Parse one SSE line; return False for a usage-only chunk (the client may not want
        it passed on)."""
        if not line.startswith(b"data:"):
            return True
        data = line[5:].strip()
        if data == b"[DONE]":
            self.finished = True
            return True
        try:
            chunk = json.loads(data)
        except ValueError:
            return True
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        for c in choices:
            piece = (c.get("delta") or {}).get("content") if "delta" in c else c.get("text")
            if piece:
                self.texts.setdefault(c.get("index", 0), []).append(piece)
        return bool(choices) or not chunk.get("usage")

    def text(self, index: int = 0) -> str:
        return "".join(self.texts.get(index, []))


def count_prompt(tokenizer: Any, body: dict[str, Any]) -> int:
    """Prompt tokens as a chat/completions server sees them (chat template applied)."""
    if "messages" in body:
        msgs = [
            {"role": "system" if m["role"] == "developer" else m["role"], "content": _text(m)}
            for m in body["messages"]
        ]
        ids = tokenizer.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return len(ids)
    p = body.get("prompt", "")
    prompts = [p] if isinstance(p, str) or (p and isinstance(p[0], int)) else list(p)
    return sum(
        len(x) if isinstance(x, list) else len(tokenizer.encode(x, add_special_tokens=False))
        for x in prompts
    )


def count_completion(tokenizer: Any, texts: list[str]) -> int:
    return sum(len(tokenizer.encode(t, add_special_tokens=False)) for t in texts)


def _text(m: dict[str, Any]) -> str:
    c = m.get("content")
    if isinstance(c, list):
        return "".join(p.get("text") or "" for p in c if isinstance(p, dict))
    return c or ""


def local_usage(tokenizer: Any, body: dict[str, Any], tally: StreamTally) -> dict[str, int]:
    p = count_prompt(tokenizer, body)
    c = count_completion(tokenizer, [tally.text(i) for i in sorted(tally.texts)])
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
