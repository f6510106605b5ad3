"""`/v1/embeddings`: the server's sentence embedder, when one is loaded, in OpenAI's shape."""

import asyncio
import base64
from typing import Any

import numpy as np
from fastapi import APIRouter, Request

from lmforge.serve.errors import APIError
from lmforge.serve.http import read_json
from lmforge.serve.protocol import EmbeddingRequest, parse
from lmforge.serve.state import ServerState


def embeddings_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/embeddings")
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

    return router
