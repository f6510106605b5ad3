"""The OpenAI API's generation routes: `/v1/models`, `/v1/chat/completions`, `/v1/completions`.

Per generation request: parse (400) -> model (404) -> input scanners -> tokenize and check the
context length (400, both numbers) -> a slot (429 when the queue is full) -> the engine, raced
against the client's disconnect so a client that leaves aborts its sequences at once.
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from lmforge.engine import SamplingParams
from lmforge.errors import LMForgeError
from lmforge.models.chat import render_chat
from lmforge.serve.errors import APIError, context_length_error
from lmforge.serve.generate import Generation, Kind
from lmforge.serve.http import key_of, read_json, until_disconnect
from lmforge.serve.protocol import ChatRequest, CompletionRequest, parse
from lmforge.serve.state import ServerState
from lmforge.serve.tools import call_grammar, chat_messages, closed, native_tools


def openai_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/models")
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
        assert state.engine is not None
        for name in state.engine.engine.lora.names():  # LoRA adapters over the base
            data.append(
                {
                    "id": f"{state.model_name}:{name}",
                    "object": "model",
                    "created": created,
                    "owned_by": "lmforge",
                    "parent": state.model_name,
                    "max_model_len": state.max_model_len,
                }
            )
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

    @router.get("/v1/models/{model_id:path}")
    async def model(model_id: str) -> dict[str, Any]:
        """One model object, or OpenAI's 404 naming what this server serves."""
        for m in (await models())["data"]:
            if m["id"] == model_id:
                return m
        served = ", ".join(m["id"] for m in (await models())["data"])
        raise APIError(
            404,
            f"The model '{model_id}' does not exist; this server serves: {served}",
            param="model",
            code="model_not_found",
        )

    def check_model(name: str) -> str | None:
        """The LoRA adapter `name` asks for ('base:adapter' or 'adapter'; None = the base)."""
        if name == state.model_name:
            return None
        assert state.engine is not None
        adapters = state.engine.engine.lora.names()
        base, _, adapter = name.rpartition(":")
        if base == state.model_name and adapter in adapters:
            return adapter
        if name in adapters:
            return name
        also = f" and adapters {', '.join(adapters)}" if adapters else ""
        raise APIError(
            404,
            f"The model '{name}' does not exist; this server serves '{state.model_name}'{also}",
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

    async def generate(
        request: Request,
        kind: Kind,
        req: ChatRequest | CompletionRequest,
        prompts: list[list[int]],
        logprobs: int | None,
        constraint: dict[str, Any] | None = None,
        tool_mode: str = "none",
        adapter: str | None = None,
    ) -> Response:
        assert state.engine is not None
        requested = req.requested_max_tokens
        maxes = [budget(ids, requested) for ids in prompts]
        params = [
            req.sampling(maxes[i // req.n], logprobs, i, constraint)
            for i in range(len(prompts) * req.n)
        ]
        for p in params:
            p.adapter = adapter
        if params[0].constraint:
            where = "tools" if constraint else "response_format.json_schema.schema"
            await check_constraint(params[0], where)
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
            req.model,
            prompts,
            params,
            state.scanners,
            include_usage=req.stream and req.include_usage,
            echo=isinstance(req, CompletionRequest) and req.echo,
            tool_mode=tool_mode,
        )
        fields = request.state.log
        fields.update(id=gen.request_id, model=req.model, n=req.n, stream=req.stream)
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

    async def check_constraint(params: SamplingParams, where: str) -> None:
        """Compile now (off the loop; cached for the engine) so a bad schema is a 400."""
        assert state.engine is not None
        compiler = state.engine.engine.constraints.compiler
        try:
            await asyncio.to_thread(compiler.compile, params)
        except LMForgeError as e:
            raise APIError(400, f"invalid '{where}': {e}", param=where) from None

    async def tool_plan(req: ChatRequest) -> dict[str, Any] | None:
        """The call grammar for `req`'s tool_choice (None for "none"); 400 for bad parameters."""
        if req.tool_mode == "none":
            return None
        for i, t in enumerate(req.tools or []):
            schema = closed(t.function.parameters)
            await check_constraint(
                SamplingParams(json_schema=schema), f"tools[{i}].function.parameters"
            )
        grammar = call_grammar(
            req.allowed_tools(),
            req.parallel_tool_calls,
            auto=req.tool_mode == "auto",
            tokenizer=state.engine.tokenizer if state.engine else None,
        )
        return {"grammar": grammar}

    @router.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        req: ChatRequest = parse(ChatRequest, await read_json(request, state.cfg.max_body_bytes))
        adapter = check_model(req.model)
        assert state.engine is not None
        conv = req.conversation()
        for m in conv:
            if m["role"] in ("user", "tool") and state.scanners.chain:
                m["content"] = await state.scanners.check_input(m["content"], key_of(request))
        tok = state.engine.tokenizer
        native = native_tools(tok)
        fns = req.allowed_tools() if req.tool_mode != "none" else None
        if req.tool_mode == "named":  # the prompt lists every tool; the grammar allows one
            fns = [t.function.model_dump(exclude_none=True) for t in req.tools or []]
        try:
            msgs = chat_messages(conv, fns, native, req.parallel_tool_calls)
            tools = [{"type": "function", "function": f} for f in fns] if native and fns else None
            text = render_chat(tok, msgs, tools=tools)
        except LMForgeError as e:
            raise APIError(400, str(e), param="messages") from None
        ids = tok.encode(text, add_special_tokens=False)
        constraint = await tool_plan(req)
        return await generate(
            request, "chat", req, [ids], req.engine_logprobs, constraint, req.tool_mode, adapter
        )

    @router.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await read_json(request, state.cfg.max_body_bytes)
        req: CompletionRequest = parse(CompletionRequest, body)
        adapter = check_model(req.model)
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
        return await generate(request, "completion", req, prompts, req.logprobs, adapter=adapter)

    return router
