"""A deterministic OpenAI-compatible upstream, for the gateway's tests and benchmark.

It answers chat and completions requests with a reproducible text (`reply`), reports usage
counted with a given tokenizer (or by words), can stream word by word, and injects faults on
demand: a queue of statuses to answer next (with optional Retry-After), a per-request delay,
streams without a usage chunk (like upstreams that ignore `stream_options`). It also records
what it saw, so tests can check retries, fallbacks and disconnects from the upstream's side.
`serve_in_thread` runs any ASGI app on a free loopback port.
"""

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass(slots=True)
class MockState:
    tokenizer: Any = None
    faults: deque[tuple[int, str | None]] = field(default_factory=deque)
    delay_s: float = 0.0
    word_delay_s: float = 0.0
    stream_usage: bool = True  # False: ignore stream_options.include_usage
    margin: float = 3.0  # logprob gap between the top-2 tokens, when logprobs are asked
    answer: str | None = None  # a fixed answer instead of `reply` (e.g. a judge's "yes")
    calls: int = 0
    disconnects: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)


def reply(body: dict[str, Any], words: int = 6) -> str:
    """The answer: the prompt's last words echoed back (always the same for the same body)."""
    if "messages" in body:
        text = str(body["messages"][-1].get("content") or "")
    else:
        text = str(body.get("prompt") or "")
    parts = text.split()[-words:] or ["ok"]
    n = min(len(parts), int(body.get("max_tokens") or body.get("max_completion_tokens") or 16))
    return " ".join(parts[:n])


def _count(st: MockState, text: str) -> int:
    if st.tokenizer is None:
        return len(text.split())
    return len(st.tokenizer.encode(text, add_special_tokens=False))


def _prompt_tokens(st: MockState, body: dict[str, Any]) -> int:
    if st.tokenizer is None:
        return sum(
            len(str(m.get("content") or "").split()) for m in body.get("messages", [])
        ) or len(str(body.get("prompt", "")).split())
    from lmforge.gateway.usage import count_prompt

    return count_prompt(st.tokenizer, body)


def _logprobs(chat: bool, text: str, margin: float) -> Any:
    toks = text.split() or ["ok"]
    if chat:
        return {
            "content": [
                {
                    "token": t,
                    "logprob": -0.01,
                    "bytes": None,
                    "top_logprobs": [
                        {"token": t, "logprob": -0.01, "bytes": None},
                        {"token": "~", "logprob": -0.01 - margin, "bytes": None},
                    ],
                }
                for t in toks
            ]
        }
    return {
        "tokens": toks,
        "token_logprobs": [-0.01] * len(toks),
        "top_logprobs": [{t: -0.01, "~": -0.01 - margin} for t in toks],
    }


def mock_app(st: MockState) -> Starlette:
    async def handle(request: Request) -> Response:
        st.calls += 1
        body = json.loads(await request.body())
        st.bodies.append(body)
        if st.faults:
            status, retry_after = st.faults.popleft()
            headers = {"Retry-After": retry_after} if retry_after else {}
            return JSONResponse({"error": {"message": f"injected {status}"}}, status, headers)
        if st.delay_s:
            await asyncio.sleep(st.delay_s)
        chat = request.url.path.endswith("chat/completions")
        text = reply(body) if st.answer is None else st.answer
        usage = {"prompt_tokens": _prompt_tokens(st, body), "completion_tokens": _count(st, text)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        lp = _logprobs(chat, text, st.margin) if body.get("logprobs") else None
        base = {"id": "mock-1", "created": int(time.time()), "model": body.get("model")}
        if not body.get("stream"):
            choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "logprobs": lp}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
            else:
                choice["text"] = text
            obj = "chat.completion" if chat else "text_completion"
            return JSONResponse({**base, "object": obj, "choices": [choice], "usage": usage})
        want = (body.get("stream_options") or {}).get("include_usage") and st.stream_usage
        obj = "chat.completion.chunk" if chat else "text_completion"

        async def events() -> Any:
            try:
                words = text.split(" ")
                for i, w in enumerate(words):
                    piece = w if i == 0 else " " + w
                    ch = {"index": 0, "finish_reason": None}
                    ch.update({"delta": {"content": piece}} if chat else {"text": piece})
                    yield f"data: {json.dumps({**base, 'object': obj, 'choices': [ch]})}\n\n"
                    if st.word_delay_s:
                        await asyncio.sleep(st.word_delay_s)
                end = {"index": 0, "finish_reason": "stop"}
                end.update({"delta": {}} if chat else {"text": ""})
                yield f"data: {json.dumps({**base, 'object': obj, 'choices': [end]})}\n\n"
                if want:
                    last = {**base, "object": obj, "choices": [], "usage": usage}
                    yield f"data: {json.dumps(last)}\n\n"
                yield "data: [DONE]\n\n"
            except asyncio.CancelledError:
                st.disconnects += 1
                raise

        return StreamingResponse(events(), media_type="text/event-stream")

    routes = [
        Route("/v1/chat/completions", handle, methods=["POST"]),
        Route("/v1/completions", handle, methods=["POST"]),
    ]
    return Starlette(routes=routes)


@dataclass(slots=True)
class Served:
    url: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def serve_in_thread(app: Any) -> Served:
    """Run `app` under uvicorn on 127.0.0.1:<free port> in a daemon thread; wait until up."""
    import uvicorn

    from lmforge.serve.server import bind

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "server did not start"
    return Served(f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread)
