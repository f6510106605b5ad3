"""Rerankers: a cross-encoder from a local path, and an LLM scoring P("yes") pointwise.

A bi-encoder embeds query and chunk apart; a cross-encoder reads them together and so ranks the
top few candidates much better, at a cost only affordable on a short list. The LLM reranker asks
the generator whether a passage answers the question and scores by the log-probability of "yes"
(vs "no"), which needs no training at all.
"""

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lmforge.errors import LMForgeError
from lmforge.extras import require
from lmforge.rag.chunking import Chunk


class Reranker(Protocol):
    def score(self, query: str, chunks: list[Chunk]) -> list[float]: ...


class CrossEncoderReranker:
    def __init__(self, path: str | Path, batch_size: int = 32) -> None:
        st = require("rag", "sentence_transformers")
        path = Path(path)
        if not (path / "config.json").is_file():
            raise LMForgeError(
                f"reranker_path: {path} is not a local CrossEncoder directory (no config.json); "
                "train one with `lmforge rag train-reranker`"
            )
        self.model: Any = st.CrossEncoder(str(path), device="cpu")
        self.batch_size = batch_size

    def score(self, query: str, chunks: list[Chunk]) -> list[float]:
        if not chunks:
            return []
        pairs = [(query, c.text) for c in chunks]
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in np.asarray(scores).reshape(-1)]


LLM_PROMPT = (
    "Passage:\n{passage}\n\nQuestion: {query}\n\n"
    "Does the passage contain the answer to the question? Answer yes or no."
)


class LLMReranker:
    """Pointwise: score = log P(yes) - log P(no) at the first answer token."""

    def __init__(self, generator: Any, batch_size: int = 8, max_passage_tokens: int = 256) -> None:
        self.gen = generator
        tok = generator.tokenizer
        self.yes = [tok.encode(w, add_special_tokens=False)[0] for w in ("yes", "Yes")]
        self.no = [tok.encode(w, add_special_tokens=False)[0] for w in ("no", "No")]
        self.batch_size = batch_size
        self.max_passage_tokens = max_passage_tokens

    def _passage(self, text: str) -> str:
        ids = self.gen.tokenizer.encode(text, add_special_tokens=False)[: self.max_passage_tokens]
        return self.gen.tokenizer.decode(ids)

    def score(self, query: str, chunks: list[Chunk]) -> list[float]:
        import torch

        tok, model = self.gen.tokenizer, self.gen.model
        prompts = [
            self.gen.chat_prompt(LLM_PROMPT.format(passage=self._passage(c.text), query=query))
            for c in chunks
        ]
        out: list[float] = []
        side, tok.padding_side = tok.padding_side, "left"
        try:
            for i in range(0, len(prompts), self.batch_size):
                enc = tok(
                    prompts[i : i + self.batch_size],
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=False,
                )
                with torch.inference_mode():
                    logits = model(**enc).logits[:, -1, :].float()
                logp = torch.log_softmax(logits, dim=-1)
                yes = torch.logsumexp(logp[:, self.yes], dim=-1)
                no = torch.logsumexp(logp[:, self.no], dim=-1)
                out.extend((yes - no).tolist())
        finally:
            tok.padding_side = side
        return out
