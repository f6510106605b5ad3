"""A request as the engine tracks it, beside its sequence: detokenizer, sampling state, timings,
the logprob rows it asked for; and the EOS ids a model stops on."""

import json
from dataclasses import dataclass, field
from typing import Any

import torch

from lmforge.engine.detokenizer import Detokenizer
from lmforge.engine.outputs import Logprob
from lmforge.engine.sequence import Sequence


@dataclass(slots=True)
class Request:
    seq: Sequence
    detok: Detokenizer
    generator: torch.Generator | None
    stop_ids: frozenset[int]
    first_token: float | None = None
    last_token: float | None = None
    itl: list[float] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top: list[list[tuple[int, float]]] = field(default_factory=list)
    stop_reason: str | int | None = None
    # Rows wanted beyond sampling (prompt logprobs, scoring): position -> tokens to read there,
    # the top-n to add, and the rows read so far (position p's logits predict token p + 1).
    targets: dict[int, list[int]] = field(default_factory=dict)
    top_n: int = 0
    rows: dict[int, dict[int, Logprob]] = field(default_factory=dict)
    scoring: bool = False  # targets came from LLM.score (rows returned as they are)
    prompt_lps: list[dict[int, Logprob] | None] | None = None  # built once all rows are read


def eos_ids(path: Any, tokenizer: Any) -> frozenset[int]:
    """EOS ids from generation_config.json (int or list) and the tokenizer."""
    ids: set[int] = set()
    gen = path / "generation_config.json"
    if gen.is_file():
        eos = json.loads(gen.read_text()).get("eos_token_id")
        ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return frozenset(ids)
