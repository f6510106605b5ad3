"""The FastAPI app: OpenAI routes over the engine, behind the gate (503/401/413, request logs).

Per generation request: parse (400) -> model (404) -> input scanners -> tokenize and check the
context length (400, both numbers) -> a slot (429 when the queue is full) -> the engine, raced
against the client's disconnect so a client that leaves aborts its sequences at once.
"""

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException

from lmforge.errors import LMForgeError
from lmforge.models.chat import render_chat
from lmforge.serve.errors import APIError, context_length_error
from lmforge.serve.gate import Gate
from lmforge.serve.generate import Generation, Kind
from lmforge.serve.protocol import ChatRequest, CompletionRequest, EmbeddingRequest, parse
from lmforge.serve.state import ServerState

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def read_json(request: Request, limit: int) -> Any:
    """The body as JSON; 413 past `limit` even without a Content-Length (chunked uploads)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise APIError(413, f"request body exceeds {limit} bytes (max_body_bytes)")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as e:
        raise APIError(400, f"request body is not valid JSON ({e})") from None


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run `work` unless the client disconnects first, in which case cancel it (-> abort)."""
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise ClientGone
    return task.result()


def create_app(state: ServerState) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                state.install(await asyncio.to_thread(state.loader))
            except Exception as e:  # reported by /health and every /v1 call as a 503
                state.load_error = f"{type(e).__name__}: {e}"
                raise

        task = asyncio.create_task(load())
        yield
        if not task.done():
            task.cancel()
        if state.engine is not None:
            await state.engine.aclose()

    app = FastAPI(title="lmforge", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(APIError)
    async def api_error(request: Request, e: APIError) -> JSONResponse:
        return e.response()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return APIError(e.status_code, str(e.detail)).response()

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception) -> JSONResponse:
        rid = request.state.log.get("request_id")
        return APIError(500, f"internal error (request {rid}); see the server log").response()

    @app.get("/health")
    async def health() -> JSONResponse:
        status = "draining" if state.draining else "ok" if state.engine else "loading"
        if state.load_error:
            status = "failed"
        body = {"status": status, "model": state.model_name, "error": state.load_error}
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        created = int(state.started)
        data = [
            {
                "id": state.model_name,
                "object": "model",
                "created": created,
                "owned_by": "lmforge",
                "max_model_len": state.max_model_len,
            }
        ]
        if state.embedder is not None:
            data.append(
                {
                    "id": state.embed_name,
                    "object": "model",
                    "created": created,
                    "owned_by": "lmforge",
                }
            )
        return {"object": "list", "data": data}

    def check_model(name: str) -> None:
        if name != state.model_name:
            raise APIError(
                404,
                f"The model '{name}' does not exist; this server serves '{state.model_name}'",
                param="model",
                code="model_not_found",
            )

    def budget(ids: list[int], requested: int | None) -> int:
        """max_tokens for one prompt: OpenAI's default is what the context has left."""
        limit, n = state.max_model_len, len(ids)
        if not ids:
            raise APIError(400, "prompt is empty after tokenization", param="prompt")
        want = requested if requested is not None else max(1, limit - n)
        if n + want > limit:
            raise context_length_error(limit, n, want)
        assert state.engine is not None
        s = state.engine.stats()
        if n + want > s.num_blocks * s.block_size:
            raise APIError(
                400,
                f"prompt + max_tokens = {n + want} tokens exceeds the KV cache "
                f"({s.num_blocks * s.block_size} tokens); lower max_tokens",
                param="max_tokens",
            )
        return want

    def key_of(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return auth.partition(" ")[2] or None

    async def generate(
        request: Request,
        kind: Kind,
        req: ChatRequest | CompletionRequest,
        prompts: list[list[int]],
        logprobs: int | None,
    ) -> Response:
        assert state.engine is not None
        requested = req.requested_max_tokens
        maxes = [budget(ids, requested) for ids in prompts]
        params = [req.sampling(maxes[i // req.n], logprobs, i) for i in range(len(prompts) * req.n)]
        if len(params) > state.admission.capacity:
            raise APIError(
                400,
                f"{len(params)} sequences (prompts x n) exceed the server's "
                f"max_num_seqs {state.admission.capacity}",
                param="n",
            )
        prefix = "chatcmpl" if kind == "chat" else "cmpl"
        gen = Generation(
            state.engine,
            kind,
            f"{prefix}-{uuid.uuid4().hex}",
            state.model_name,
            prompts,
            params,
            state.scanners,
            include_usage=req.stream and req.include_usage,
        )
        fields = request.state.log
        fields.update(id=gen.request_id, model=state.model_name, n=req.n, stream=req.stream)
        t0 = time.perf_counter()
        slot = state.admission.slot(len(params))
        queued = await until_disconnect(request, slot.__aenter__())

        def finish() -> None:
            c = gen.choices
            reasons = [x.finish_reason or "abort" for x in c]
            ttft = min((x.ttft for x in c if x.ttft is not None), default=None)
            itl = [t for x in c for t in x.itl]
            e2e = time.perf_counter() - t0
            if all(r != "abort" for r in reasons):
                state.metrics.observe(ttft, itl, e2e, queued, reasons)
            fields.update(
                gen.usage(),
                finish_reasons=reasons,
                queue_s=round(queued, 4),
                ttft_s=round(ttft, 4) if ttft is not None else None,
            )
            if state.cfg.log_prompts:
                tok = state.engine.tokenizer if state.engine else None
                fields["prompt"] = [tok.decode(p) for p in prompts] if tok else None
                fields["output"] = [x.text for x in c]

        if not req.stream:
            try:
                body = await until_disconnect(request, gen.complete())
            except LMForgeError as e:
                raise APIError(400, str(e)) from None
            finally:
                await slot.__aexit__(None, None, None)
                finish()
            return JSONResponse(body)

        async def events() -> AsyncIterator[str]:
            try:
                async for chunk in gen.stream():
                    yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
            except LMForgeError as e:  # after the 200 went out: an error event, then [DONE]
                yield f"data: {json.dumps(APIError(400, str(e)).body())}\n\n"
            finally:
                await slot.__aexit__(None, None, None)
                finish()
            yield "data: [DONE]\n\n"

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        req: ChatRequest = parse(ChatRequest, await read_json(request, state.cfg.max_body_bytes))
        check_model(req.model)
        assert state.engine is not None
        conv = req.conversation()
        for m in conv:
            if m["role"] in ("user", "tool") and state.scanners.chain:
                m["content"] = await state.scanners.check_input(m["content"], key_of(request))
        try:
            text = render_chat(state.engine.tokenizer, conv)
        except LMForgeError as e:
            raise APIError(400, str(e), param="messages") from None
        ids = state.engine.tokenizer.encode(text, add_special_tokens=False)
        return await generate(request, "chat", req, [ids], req.engine_logprobs)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await read_json(request, state.cfg.max_body_bytes)
        req: CompletionRequest = parse(CompletionRequest, body)
        check_model(req.model)
        assert state.engine is not None
        tok, vocab = state.engine.tokenizer, len(state.engine.tokenizer)
        prompts = []
        for p in req.prompts():
            if isinstance(p, str):
                if state.scanners.chain:
                    p = await state.scanners.check_input(p, key_of(request))
                prompts.append(tok.encode(p, add_special_tokens=False))
            elif any(t >= vocab for t in p):
                raise APIError(400, f"prompt token ids must be < {vocab}", param="prompt")
            else:
                prompts.append(list(p))
        return await generate(request, "completion", req, prompts, req.logprobs)

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> dict[str, Any]:
        req: EmbeddingRequest = parse(
            EmbeddingRequest, await read_json(request, state.cfg.max_body_bytes)
        )
        if state.embedder is None or req.model != state.embed_name:
            have = state.embed_name if state.embedder is not None else "none (embeddings off)"
            raise APIError(
                404,
                f"The model '{req.model}' does not exist; embedding model: {have}",
                param="model",
                code="model_not_found",
            )
        texts = req.texts()
        if not all(isinstance(t, str) for t in texts):
            raise APIError(
                400, "token-id input is not supported for embeddings; send text", param="input"
            )
        if req.dimensions is not None:
            raise APIError(400, "dimensions is not supported by this model", param="dimensions")
        emb = state.embedder
        vecs = await asyncio.to_thread(emb.encode, texts, normalize_embeddings=True)
        vecs = np.asarray(vecs, dtype=np.float32)
        n_tok = sum(len(emb.tokenizer(t, add_special_tokens=True)["input_ids"]) for t in texts)
        request.state.log.update(model=state.embed_name, prompt_tokens=n_tok, inputs=len(texts))
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(v.tobytes()).decode()
                if req.encoding_format == "base64"
                else v.tolist(),
            }
            for i, v in enumerate(vecs)
        ]
        return {
            "object": "list",
            "data": data,
            "model": state.embed_name,
            "usage": {"prompt_tokens": n_tok, "total_tokens": n_tok},
        }

    app.add_middleware(Gate, state=state)  # type: ignore[arg-type]
    return app
