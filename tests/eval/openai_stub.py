"""In-test OpenAI-compatible servers: one wraps a model (completions with echo+logprobs, chat),
one replies with scripted text (to drive the judge through its parsing and retry paths)."""

from collections.abc import Callable
from typing import Any

import torch


def model_app(backend: Any) -> Any:
    """/v1/completions (echo + logprobs, or generation) and /v1/chat/completions over `backend`."""
    from fastapi import FastAPI

    from lmforge.eval.backends.base import GenRequest

    app = FastAPI()
    tok = backend.tokenizer

    @app.post("/v1/completions")
    def completions(body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["prompt"]
        if body.get("echo") and body.get("max_tokens", 16) == 0:
            ids = tok(prompt, add_special_tokens=False, return_offsets_mapping=True)
            tokens, offsets = ids["input_ids"], [o[0] for o in ids["offset_mapping"]]
            with torch.inference_mode():
                logits = backend.model(input_ids=torch.tensor([tokens])).logits[0]
            logp = torch.log_softmax(logits.float(), -1)
            token_lp: list[float | None] = [None]
            top: list[dict[str, float] | None] = [None]
            for i in range(1, len(tokens)):
                token_lp.append(logp[i - 1, tokens[i]].item())
                best = int(logp[i - 1].argmax())
                top.append({tok.convert_ids_to_tokens(best): logp[i - 1, best].item()})
            names = tok.convert_ids_to_tokens(tokens)
            logprobs = {
                "tokens": names,
                "token_logprobs": token_lp,
                "text_offset": offsets,
                "top_logprobs": top,
            }
            return {"choices": [{"text": prompt, "logprobs": logprobs, "index": 0}]}
        req = GenRequest(
            prompt,
            max_new_tokens=body.get("max_tokens", 16),
            n=body.get("n", 1),
            stop=tuple(body.get("stop") or ()),
        )
        texts = backend.generate([req])[0]
        return {"choices": [{"text": t, "index": i} for i, t in enumerate(texts)]}

    @app.post("/v1/chat/completions")
    def chat(body: dict[str, Any]) -> dict[str, Any]:
        user = body["messages"][-1]["content"]
        req = GenRequest(user, chat=True, max_new_tokens=body.get("max_tokens", 16))
        texts = backend.generate([req])[0]
        return {"choices": [{"message": {"role": "assistant", "content": t}} for t in texts]}

    return app


def scripted_app() -> tuple[Any, Callable[[Callable[[str], str]], None]]:
    from fastapi import FastAPI

    app = FastAPI()
    state: dict[str, Any] = {"reply": lambda prompt: "", "calls": 0}

    @app.post("/v1/chat/completions")
    def chat(body: dict[str, Any]) -> dict[str, Any]:
        state["calls"] += 1
        text = state["reply"](body["messages"][-1]["content"])
        return {"choices": [{"message": {"role": "assistant", "content": text}}]}

    def set_reply(fn: Callable[[str], str]) -> None:
        state["reply"] = fn

    app.state.script = state
    return app, set_reply
