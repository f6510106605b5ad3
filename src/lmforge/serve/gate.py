"""The ASGI layer in front of every route: request ids, the 503/401/413 gates, one JSON log line.

Gates run before any body is read, so a draining server, a wrong key or a declared oversized
body cost nothing. Routes add their fields (model, tokens, TTFT, ...) to `scope["state"]["log"]`;
the line is written when the response (streamed or not) has been fully sent, with the status
the client saw (499 when it went away first).
"""

import hmac
import json
import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lmforge.serve.errors import APIError
from lmforge.serve.state import ServerState

log = logging.getLogger("lmforge.serve.requests")


def setup_request_log() -> None:
    """JSON lines on stderr, one per request (the message is already JSON)."""
    if not log.handlers:
        h = logging.StreamHandler()
        h.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False


def _bearer(scope: Scope) -> str | None:
    for k, v in scope.get("headers", []):
        if k == b"authorization":
            scheme, _, token = v.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def _content_length(scope: Scope) -> int | None:
    for k, v in scope.get("headers", []):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


class Gate:
    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app, self.state = app, state

    def check(self, scope: Scope) -> APIError | None:
        s = self.state
        if not scope["path"].startswith("/v1"):
            return None
        if s.draining:
            return APIError(
                503,
                "server is shutting down; retry on another replica",
                code="draining",
                headers={"Retry-After": "5"},
            )
        if s.engine is None:
            why = f"model failed to load: {s.load_error}" if s.load_error else "model is loading"
            return APIError(
                503, f"{why}; retry shortly", code="loading", headers={"Retry-After": "5"}
            )
        if s.keys:
            key = _bearer(scope)
            if key is None:
                return APIError(
                    401,
                    "missing API key: send 'Authorization: Bearer <key>'",
                    code="invalid_api_key",
                )
            if not any(hmac.compare_digest(key.encode(), k.encode()) for k in s.keys):
                return APIError(401, "incorrect API key provided", code="invalid_api_key")
        size = _content_length(scope)
        if size is not None and size > s.cfg.max_body_bytes:
            return APIError(
                413,
                f"request body is {size} bytes; the limit is "
                f"{s.cfg.max_body_bytes} (max_body_bytes)",
                code="body_too_large",
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        rid = uuid.uuid4().hex[:24]
        fields: dict[str, Any] = {"request_id": rid}
        scope.setdefault("state", {})["log"] = fields
        seen: dict[str, Any] = {"status": None, "done": False}

        async def sending(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                seen["status"] = msg["status"]
                msg["headers"] = [*msg.get("headers", []), (b"x-request-id", rid.encode())]
            elif msg["type"] == "http.response.body" and not msg.get("more_body"):
                seen["done"] = True
            await send(msg)

        err = self.check(scope)
        try:
            if err is not None:
                await err.response()(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            status = seen["status"] if seen["done"] else 499
            if err is not None or (status or 0) >= 400:
                self.state.metrics.error(status or 499)
            if scope["path"].startswith("/v1"):
                line = {
                    "ts": round(time.time(), 3),
                    **fields,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "latency_s": round(time.perf_counter() - t0, 4),
                }
                log.info(json.dumps(line, ensure_ascii=False, default=str))
