"""Any OpenAI-compatible HTTP endpoint (lmforge serve, vLLM, llama.cpp server, OpenAI itself).

Generation uses /v1/chat/completions for chat requests and /v1/completions otherwise.
Log-likelihoods use the legacy completions API with `echo: true, logprobs: 1, max_tokens: 0`
(as lm-evaluation-harness's `local-completions` does): the server returns the prompt's tokens
with their log-probs and character offsets, and the continuation is the tokens at or after the
context's length. Requests run concurrently (servers batch them); transient failures (connection
errors, 429, 5xx) are retried with exponential backoff, anything else is a one-line error.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.eval.backends.base import (
    GenRequest,
    LoglikResult,
    RollingResult,
    split_context,
    truncate_at_stop,
)
from lmforge.extras import require

MAX_STOP = 4  # the OpenAI API accepts at most 4 stop strings; the rest are applied locally


class OpenAIBackend:
    name = "openai"
    structured = True  # sends GenRequest.json_schema as response_format (json_schema, strict)

    def __init__(
        self,
        base_url: str,
        model: str = "default",
        api_key: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 4,
    ) -> None:
        httpx = require("eval", "httpx")
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model, self.concurrency, self.max_retries = model, concurrency, max_retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(headers=headers, timeout=timeout_s)
        self._httpx = httpx

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries on transient errors; a one-line LMForgeError otherwise."""
        url = f"{self.base_url}/{path}"
        for attempt in range(self.max_retries + 1):
            try:
                r = self.client.post(url, json={"model": self.model, **body})
            except self._httpx.TransportError as e:
                error = f"{type(e).__name__}: {e}"
            else:
                if r.status_code == 200:
                    return r.json()
                error = f"HTTP {r.status_code}: {r.text[:200]}"
                if r.status_code != 429 and r.status_code < 500:
                    break
            if attempt < self.max_retries:
                time.sleep(min(0.25 * 2**attempt, 8.0))
        raise LMForgeError(f"{url}: request failed ({error}); check the server and the model name")

    def _map(self, fn: Any, items: list[Any]) -> list[Any]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(fn, items))

    def _one_loglik(self, pair: tuple[str, str]) -> LoglikResult:
        context, continuation = split_context(*pair)
        data = self.post(
            "completions",
            {"prompt": context + continuation, "max_tokens": 0, "echo": True, "logprobs": 1},
        )
        lp = data["choices"][0]["logprobs"]
        total, greedy, n = 0.0, True, 0
        for tok, tok_lp, offset, top in zip(
            lp["tokens"], lp["token_logprobs"], lp["text_offset"], lp["top_logprobs"], strict=True
        ):
            if offset < len(context):
                continue
            assert tok_lp is not None, "server returned no log-prob for a continuation token"
            total += tok_lp
            n += 1
            if top:
                greedy = greedy and max(top, key=top.get) == tok
        if n == 0:
            raise LMForgeError(f"server scored no continuation tokens for {continuation!r}")
        return LoglikResult(total, greedy, n)

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[LoglikResult]:
        return self._map(self._one_loglik, requests)

    def _one_rolling(self, text: str) -> RollingResult:
        data = self.post(
            "completions", {"prompt": text, "max_tokens": 0, "echo": True, "logprobs": 1}
        )
        lps = [x for x in data["choices"][0]["logprobs"]["token_logprobs"] if x is not None]
        return RollingResult(sum(lps), len(lps), 1)

    def loglikelihood_rolling(
        self, texts: list[str], max_length: int, stride: int
    ) -> list[RollingResult]:
        """One pass per text: the server owns tokenization and context, so windows are its own."""
        return self._map(self._one_rolling, texts)

    def _one_generate(self, req: GenRequest) -> list[str]:
        body: dict[str, Any] = {
            "max_tokens": req.max_new_tokens,
            "temperature": req.temperature,
            "top_p": req.top_p,
            "n": req.n,
            "seed": req.seed,
        }
        if req.stop:
            body["stop"] = list(req.stop[:MAX_STOP])
        if req.json_schema is not None:
            spec = {"name": "output", "schema": req.json_schema, "strict": True}
            body["response_format"] = {"type": "json_schema", "json_schema": spec}
        if req.chat and req.prefix:
            raise LMForgeError(
                "gen_prefix on a chat task needs --backend engine or hf: the OpenAI chat API "
                "cannot start the assistant's answer with given text"
            )
        if req.chat:
            messages = [{"role": "system", "content": req.system}] if req.system else []
            messages.append({"role": "user", "content": req.prompt})
            data = self.post("chat/completions", {**body, "messages": messages})
            texts = [c["message"]["content"] or "" for c in data["choices"]]
        else:
            data = self.post("completions", {**body, "prompt": req.prompt + req.prefix})
            texts = [c["text"] for c in data["choices"]]
        if len(texts) != req.n:
            raise LMForgeError(f"server returned {len(texts)} choices, asked for n={req.n}")
        return [truncate_at_stop(t, req.stop) for t in texts]

    def generate(self, requests: list[GenRequest]) -> list[list[str]]:
        return self._map(self._one_generate, requests)
