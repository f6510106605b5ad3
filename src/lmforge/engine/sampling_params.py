"""Per-request sampling parameters (the OpenAI/vLLM set), validated at construction."""

from dataclasses import dataclass, field
from typing import Any

from lmforge.errors import LMForgeError

# Structured-output fields, at most one per request (lmforge.engine.constraint compiles them).
CONSTRAINTS = ("json_schema", "json_object", "regex", "grammar", "choice")


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

    Structured output (at most one): `json_schema` (a JSON Schema dict or a pydantic model class),
    `json_object` (any JSON object), `regex`, `grammar` (Lark, or GBNF, as llguidance reads it),
    `choice` (exactly one of these strings). The engine masks every token that would leave the
    language and ends the request with "stop" as soon as the output is complete. `json_close`
    (JSON constraints only): over the last `json_close` tokens of the budget (at most a quarter of
    `max_tokens`) the mask keeps only tokens that close the open value wherever the grammar allows
    one, so a small model that loops inside a string ends with valid JSON instead of being cut off
    at `max_tokens`; 0 turns it off (engine/constraint.py).

    `adapter` runs the request with a LoRA adapter the engine has loaded (engine/lora.py);
    `speculative` turns speculative decoding on or off for it (engine/spec.py).
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
    json_schema: dict[str, Any] | Any | None = None
    json_object: bool = False
    regex: str | None = None
    grammar: str | None = None
    choice: list[str] | None = None
    json_close: int = 16
    adapter: str | None = None  # a LoRA adapter loaded in the engine (None = the base model)
    speculative: bool | None = None  # speculative decoding: None = the engine's policy

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
            (self.json_close >= 0, "json_close", ">= 0 (0 = off)"),
        )
        for ok, name, want in checks:
            if not ok:
                raise LMForgeError(
                    f"SamplingParams.{name}={getattr(self, name)!r} is invalid: must be {want}"
                )
        self._check_constraint()

    def _check_constraint(self) -> None:
        """At most one constraint; a pydantic model class becomes its JSON Schema here."""
        if isinstance(self.json_schema, type) and hasattr(self.json_schema, "model_json_schema"):
            self.json_schema = self.json_schema.model_json_schema()
        given = [k for k in CONSTRAINTS if getattr(self, k) not in (None, False)]
        if len(given) > 1:
            raise LMForgeError(f"SamplingParams: set at most one of {CONSTRAINTS}; got {given}")
        checks = (
            (
                self.json_schema is None or isinstance(self.json_schema, dict),
                "json_schema",
                "a JSON Schema dict or a pydantic model class",
            ),
            (
                self.regex is None or (isinstance(self.regex, str) and self.regex),
                "regex",
                "a non-empty string",
            ),
            (
                self.grammar is None or (isinstance(self.grammar, str) and self.grammar.strip()),
                "grammar",
                "a non-empty Lark grammar",
            ),
            (
                self.choice is None
                or (
                    isinstance(self.choice, list)
                    and self.choice
                    and all(isinstance(c, str) and c for c in self.choice)
                ),
                "choice",
                "a non-empty list of non-empty strings",
            ),
        )
        for ok, name, want in checks:
            if not ok:
                raise LMForgeError(
                    f"SamplingParams.{name}={getattr(self, name)!r:.80} is invalid: must be {want}"
                )

    @property
    def constraint(self) -> str | None:
        """The name of the structured-output field in use, or None for free text."""
        return next((k for k in CONSTRAINTS if getattr(self, k) not in (None, False)), None)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0
