"""What the engine hands back: per-request outputs (streamed deltas and totals) and stats."""

from dataclasses import dataclass, field


@dataclass(slots=True, frozen=True)
class Logprob:
    """A token's log-probability at one position and its rank there (1 = the most likely)."""

    logprob: float
    rank: int


@dataclass(slots=True)
class RequestOutput:
    """The state of one request after a step.

    `text`/`token_ids` are everything so far; `delta_text`/`delta_token_ids` what this step added
    (for streaming). Timings are seconds: `ttft` from arrival to the first token, `itl` the gaps
    between later tokens. `prompt_logprobs` (when asked for) has one entry per prompt token:
    None for the first, then {token id: Logprob} holding the prompt's token and the top n.
    """

    request_id: str
    prompt_token_ids: list[int]
    text: str
    token_ids: list[int]
    delta_text: str
    delta_token_ids: list[int]
    finished: bool
    finish_reason: str | None = None  # "stop" (EOS/stop string/stop id), "length", "abort"
    stop_reason: str | int | None = None  # the stop string or token id that ended it
    logprobs: list[float] | None = None
    top_logprobs: list[list[tuple[int, float]]] | None = None
    prompt_logprobs: list[dict[int, Logprob] | None] | None = None
    row_logprobs: dict[int, dict[int, Logprob]] | None = None  # scoring: position -> next tokens
    ttft: float | None = None
    itl: list[float] = field(default_factory=list)
    num_cached_tokens: int = 0
    num_preemptions: int = 0

    @property
    def mean_itl(self) -> float | None:
        return sum(self.itl) / len(self.itl) if self.itl else None


@dataclass(slots=True)
class EngineStats:
    """Counters for metrics (the server exports these)."""

    num_running: int
    num_waiting: int
    kv_usage: float  # fraction of KV blocks held by live requests
    num_blocks: int
    block_size: int
    prefix_cache_hits: int  # blocks served from the cache
    prefix_cache_queries: int  # blocks looked up
    prompt_tokens: int  # prompt tokens computed (cache hits excluded)
    generation_tokens: int
    num_preemptions: int
    num_steps: int
