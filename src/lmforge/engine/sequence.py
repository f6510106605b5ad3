"""A request's token sequence and its bookkeeping, the unit the scheduler and runner move."""

from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any

from lmforge.engine.sampling_params import SamplingParams


class Status(Enum):
    WAITING = auto()
    RUNNING = auto()
    FINISHED = auto()


@dataclass(slots=True, eq=False)
class Sequence:
    """Tokens (prompt + output) and how many of them already have KV in the cache.

    `num_computed` counts tokens whose K/V are written; prefix-cache hits advance it at admission,
    chunked prefill advances it chunk by chunk, preemption resets it to 0 (the blocks are freed and
    the whole prompt + output is recomputed later).
    """

    request_id: str
    prompt_ids: list[int]
    params: SamplingParams
    arrival: float
    output_ids: list[int] = field(default_factory=list)
    block_table: list[int] = field(default_factory=list)
    block_hashes: list[int] = field(default_factory=list)  # prefix hashes of its full blocks
    num_computed: int = 0
    num_cached: int = 0  # prompt tokens served from the prefix cache at (last) admission
    status: Status = Status.WAITING
    finish_reason: str | None = None
    num_preemptions: int = 0
    # First position whose logits are still wanted beyond the sampled row (prompt logprobs,
    # scoring); None = none. Collected rows advance it, so a preempted sequence never recomputes
    # them, and the prefix cache may only serve blocks below it (their logits are not stored).
    logits_from: int | None = None
    adapter: Any = None  # the LoRA Adapter (lora.py) this request runs with; None = base model
    cache_salt: int | None = None  # prefix-cache namespace: the adapter's, so KV is never shared

    @property
    def tokens(self) -> list[int]:
        return self.prompt_ids + self.output_ids

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def num_uncomputed(self) -> int:
        return len(self) - self.num_computed

    def token_at(self, i: int) -> int:
        p = len(self.prompt_ids)
        return self.prompt_ids[i] if i < p else self.output_ids[i - p]
