"""Server-sent events: a cached or buffered answer replayed as the chunks a stream would send."""

import json
from collections.abc import Iterator
from typing import Any


def replay(body: dict[str, Any], include_usage: bool) -> Iterator[bytes]:
    """One content chunk and one finish chunk per choice, then usage (if asked) and [DONE]."""
    chat = body.get("object") == "chat.completion"
    obj = "chat.completion.chunk" if chat else "text_completion"
    base = {
        "id": body.get("id"),
        "object": obj,
        "created": body.get("created"),
        "model": body.get("model"),
    }
    for c in body.get("choices", []):
        i = c.get("index", 0)
        if chat:
            text = (c.get("message") or {}).get("content") or ""
            first = {"index": i, "delta": {"role": "assistant", "content": text}}
            last = {"index": i, "delta": {}, "finish_reason": c.get("finish_reason")}
        else:
            first = {"index": i, "text": c.get("text", "")}
            last = {"index": i, "text": "", "finish_reason": c.get("finish_reason")}
        for ch in (first, last):
            ch.setdefault("finish_reason", None)
            yield event({**base, "choices": [ch]})
    if include_usage:
        yield event({**base, "choices": [], "usage": body.get("usage")})
    yield b"data: [DONE]\n\n"


def event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"
