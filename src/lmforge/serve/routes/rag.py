"""`POST /v1/rag/ask`: answer from the served index with citations and, if asked, a self-check.

Body: `{"question": "...", "self_check": "off" | "drop" | "regenerate" | "refuse"}` (the
policy is optional: the server's `--self-check` is the default). The answer, its citations and
sources come back with `metadata.self_check`: every round's verdicts (claim, supported, score,
evidence chunk, span and text) and what the policy did; the same record is appended to
`self_check.jsonl` in the serve run's directory. The input and output scanners (guard) apply
as on the chat route. One request holds one engine slot; not streamed, since claims must be
checked before they are shown.
"""

import asyncio
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request

from lmforge.errors import LMForgeError
from lmforge.serve.errors import APIError
from lmforge.serve.http import key_of, read_json, until_disconnect
from lmforge.serve.protocol import _Request, parse
from lmforge.serve.state import ServerState


class RagAskRequest(_Request):
    question: str
    self_check: Literal["off", "drop", "regenerate", "refuse"] | None = None


def rag_router(state: ServerState) -> APIRouter:
    router = APIRouter()
    log_lock = threading.Lock()

    def record(path: Path, row: dict[str, Any]) -> None:
        with log_lock, path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    @router.post("/v1/rag/ask")
    async def ask(request: Request) -> dict[str, Any]:
        body = await read_json(request, state.cfg.max_body_bytes)
        req: RagAskRequest = parse(RagAskRequest, body)
        service = state.rag
        if service is None:
            raise APIError(404, "RAG is off; start the server with --rag-index DIR")
        if not req.question.strip():
            raise APIError(400, "question is empty", param="question")
        question = req.question
        if state.scanners.chain:
            question = await state.scanners.check_input(question, key_of(request))
        if service.bridge is not None:
            service.bridge.loop = asyncio.get_running_loop()
        rid = f"rag-{uuid.uuid4().hex}"
        policy = req.self_check or service.policy
        t0 = time.perf_counter()
        async with state.admission.slot(1) as queued:
            try:  # a client that leaves stops waiting; the thread finishes its answer
                answer = await until_disconnect(
                    request, asyncio.to_thread(service.ask, question, policy)
                )
            except LMForgeError as e:  # prompt too long, no trained verifier, ...
                raise APIError(400, str(e)) from None
        allowed, text = await state.scanners.check_output(answer.text)
        report = answer.self_check
        if report is not None and state.run_dir is not None:
            row = {"id": rid, "question": question, "answer": text, **report}
            await asyncio.to_thread(record, state.run_dir / "self_check.jsonl", row)
        counts = {k: report[k] for k in ("claims", "unsupported")} if report else {}
        request.state.log.update(
            id=rid,
            model=state.model_name,
            self_check=policy,
            queue_s=round(queued, 4),
            e2e_s=round(time.perf_counter() - t0, 4),
            **counts,
        )
        return {
            "id": rid,
            "object": "rag.answer",
            "created": int(time.time()),
            "model": state.model_name,
            "answer": text,
            "finish_reason": "stop" if allowed else "content_filter",
            "grounded": answer.grounded,
            "citations": answer.citations if allowed else [],
            "invalid_citations": answer.invalid_citations,
            "sources": answer.sources,
            # a blocked answer's claims are its text: they stay in the run dir, not the reply
            "metadata": {"self_check": report if allowed else None},
        }

    return router
