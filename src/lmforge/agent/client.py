"""The model side of the loop: chat completions over the OpenAI API (lmforge serve or any
OpenAI-compatible endpoint), with one-line errors that name the endpoint and the fix."""

import os
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.extras import require


class ChatClient:
    def __init__(self, base_url: str, api_key: str | None = None, model: str = "default") -> None:
        self.httpx = require("agent", "httpx")
        self.base_url, self.model = base_url.rstrip("/"), model
        key = api_key or os.environ.get("OPENAI_API_KEY") or "none"
        self.http = self.httpx.Client(headers={"Authorization": f"Bearer {key}"})

    def chat(self, messages: list[dict[str, Any]], timeout_s: float, **kw: Any) -> dict[str, Any]:
        """One completion; `kw` are request fields (tools, tool_choice, max_tokens, ...)."""
        body = {"model": self.model, "messages": messages, **kw}
        url = f"{self.base_url}/chat/completions"
        try:
            r = self.http.post(url, json=body, timeout=max(timeout_s, 1.0))
        except self.httpx.TimeoutException:
            raise TimeoutError(f"{url}: no answer within {timeout_s:.0f} s") from None
        except self.httpx.TransportError as e:
            raise LMForgeError(
                f"{url}: cannot reach the model endpoint ({e}); start `lmforge serve` or fix "
                "base_url in agent.yaml"
            ) from None
        if r.status_code != 200:
            try:
                msg = r.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                msg = r.text[:300]
            raise LMForgeError(f"{url}: HTTP {r.status_code}: {msg}")
        return r.json()

    def close(self) -> None:
        self.http.close()
