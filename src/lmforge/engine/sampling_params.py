"""Per-request sampling parameters (the OpenAI/vLLM set), validated at construction."""

from dataclasses import dataclass, field

from lmforge.errors import LMForgeError


@dataclass(slots=True)
class SamplingParams:
    """How to pick each next token and when to stop.

    temperature 0 means greedy. Penalties follow their usual definitions: `repetition_penalty`
    (transformers/CTRL: divide positive logits, multiply negative ones, over prompt + output),
    `presence_penalty` and `frequency_penalty` (OpenAI: subtract over output tokens). `seed` gives
    the request its own random generator, so the same seed gives the same output whatever else is
    in the batch. `logprobs=n` returns the chosen token's log-probability and the top n.
    `prompt_logprobs=n` (vLLM's meaning) returns, for every prompt position, the log-probability
    of the prompt's own token there and the top n (position 0 has no context: None); with it,
    `max_tokens=0` scores the prompt without generating.
    """

    max_tokens: int = 16
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    ignore_eos: bool = False
    include_stop_str_in_output: bool = False
    logprobs: int | None = None
    prompt_logprobs: int | None = None
    skip_special_tokens: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        checks = (
            (
                self.max_tokens >= (0 if self.prompt_logprobs is not None else 1),
                "max_tokens",
                "an integer >= 1 (0 only to score a prompt, with prompt_logprobs set)",
            ),
            (self.temperature >= 0, "temperature", ">= 0 (0 = greedy)"),
            (self.top_k >= 0, "top_k", ">= 0 (0 = off)"),
            (0 < self.top_p <= 1, "top_p", "in (0, 1]"),
            (0 <= self.min_p <= 1, "min_p", "in [0, 1]"),
            (self.repetition_penalty > 0, "repetition_penalty", "> 0 (1 = off)"),
            (-2 <= self.presence_penalty <= 2, "presence_penalty", "in [-2, 2]"),
            (-2 <= self.frequency_penalty <= 2, "frequency_penalty", "in [-2, 2]"),
            (self.logprobs is None or 0 <= self.logprobs <= 20, "logprobs", "in [0, 20]"),
            (
                self.prompt_logprobs is None or 0 <= self.prompt_logprobs <= 20,
                "prompt_logprobs",
                "in [0, 20]",
            ),
            (all(self.stop), "stop", "non-empty strings"),
        )
        for ok, name, want in checks:
            if not ok:
                raise LMForgeError(
                    f"SamplingParams.{name}={getattr(self, name)!r} is invalid: must be {want}"
                )

    @property
    def greedy(self) -> bool:
        return self.temperature == 0
