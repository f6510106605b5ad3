"""Request schemas for the OpenAI endpoints and their translation to engine SamplingParams.

Fields follow OpenAI's API reference; unknown fields are ignored (clients send many we do not
use, e.g. `user`), but every field we do use is range-checked here so that a bad value is a 400
naming the field, never an engine error.
"""

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lmforge.engine import SamplingParams
from lmforge.serve.errors import APIError


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class StreamOptions(_Request):
    include_usage: bool = False


NAME = r"^[a-zA-Z0-9_-]{1,64}$"


class JSONSchemaFormat(_Request):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: str = Field(pattern=NAME)
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=lambda: {"type": "object"}, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Request):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None

    @model_validator(mode="after")
    def _needs_schema(self) -> "ResponseFormat":
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type 'json_schema' needs a 'json_schema' object")
        return self

    def constraint(self) -> dict[str, Any]:
        """SamplingParams fields for this format (strict schemas close their objects)."""
        from lmforge.serve.tools import closed

        if self.type == "json_object":
            return {"json_object": True}
        if self.type == "json_schema" and self.json_schema is not None:
            schema = self.json_schema.schema_
            return {"json_schema": closed(schema) if self.json_schema.strict else schema}
        return {}


class _Sampling(_Request):
    model: str
    n: int = Field(1, ge=1, le=16)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    stream: bool = False
    stream_options: StreamOptions | None = None
    # vLLM's extensions (clients pass them via extra_body)
    top_k: int = Field(0, ge=0)
    min_p: float = Field(0.0, ge=0, le=1)
    repetition_penalty: float = Field(1.0, gt=0)
    ignore_eos: bool = False
    response_format: ResponseFormat | None = None

    @field_validator("stream_options")
    @classmethod
    def _stream_options(cls, v: StreamOptions | None, info: ValidationInfo) -> StreamOptions | None:
        if v is not None and not info.data.get("stream"):
            raise ValueError("only allowed when 'stream' is true (as OpenAI answers)")
        return v

    @field_validator("stop")
    @classmethod
    def _stops(cls, v: str | list[str] | None) -> list[str]:
        stops = [v] if isinstance(v, str) else list(v or [])
        if len(stops) > 4 or not all(stops):
            raise ValueError("give at most 4 non-empty stop strings")
        return stops

    def sampling(
        self,
        max_tokens: int,
        logprobs: int | None,
        choice: int,
        constraint: dict[str, Any] | None = None,
    ) -> SamplingParams:
        """Engine params for choice `choice` (seeds differ per choice so n>1 gives n samples).

        `constraint`: structured-output fields (a tool grammar); else `response_format`'s.
        """
        if constraint is None:
            constraint = self.response_format.constraint() if self.response_format else {}
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=list(self.stop or []),
            seed=None if self.seed is None else self.seed + choice,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            top_k=self.top_k,
            min_p=self.min_p,
            repetition_penalty=self.repetition_penalty,
            ignore_eos=self.ignore_eos,
            logprobs=logprobs,
            **constraint,
        )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ContentPart(_Request):
    type: str
    text: str | None = None


class CallFunction(_Request):
    name: str
    arguments: str

    @field_validator("arguments")
    @classmethod
    def _json_object(cls, v: str) -> str:
        try:
            ok = isinstance(json.loads(v), dict)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError("must be a JSON object encoded as a string")
        return v


class ToolCall(_Request):
    id: str
    type: Literal["function"] = "function"
    function: CallFunction


class Message(_Request):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            if any(p.type != "text" for p in self.content):
                raise ValueError("only text content parts are supported")
            return "".join(p.text or "" for p in self.content)
        return self.content or ""


class FunctionDef(_Request):
    name: str = Field(pattern=NAME)
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _object(cls, v: dict[str, Any]) -> dict[str, Any]:
        if v.get("type", "object") != "object":
            raise ValueError(f"must be a JSON Schema of type 'object', got type {v['type']!r}")
        return v


class Tool(_Request):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Request):
    name: str


class NamedToolChoice(_Request):
    type: Literal["function"]
    function: NamedFunction


class ChatRequest(_Sampling):
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool = True

    @model_validator(mode="after")
    def _tool_choice(self) -> "ChatRequest":
        names = [t.function.name for t in self.tools or []]
        if len(set(names)) != len(names):
            raise ValueError(f"tools: function names must be unique, got {names}")
        if self.tool_choice not in (None, "none") and not names:
            raise ValueError("tool_choice needs 'tools'")
        if isinstance(self.tool_choice, NamedToolChoice) and (
            self.tool_choice.function.name not in names
        ):
            raise ValueError(
                f"tool_choice names function {self.tool_choice.function.name!r}, "
                f"which is not in tools {names}"
            )
        if self.tools and self.response_format and self.response_format.type != "text":
            raise ValueError("give either tools or a JSON response_format, not both")
        return self

    @property
    def tool_mode(self) -> str:
        """ "none", "auto" (OpenAI's default when tools are given), "required" or "named"."""
        if not self.tools or self.tool_choice == "none":
            return "none"
        if isinstance(self.tool_choice, NamedToolChoice):
            return "named"
        return self.tool_choice or "auto"

    def allowed_tools(self) -> list[dict[str, Any]]:
        """The function definitions a call may use (one for a named choice)."""
        fns = [t.function.model_dump(exclude_none=True) for t in self.tools or []]
        if isinstance(self.tool_choice, NamedToolChoice):
            fns = [f for f in fns if f["name"] == self.tool_choice.function.name]
        return fns

    def conversation(self) -> list[dict[str, Any]]:
        """Messages as dicts (`developer` is OpenAI's new `system`), tool calls kept."""
        return [
            {
                "role": "system" if m.role == "developer" else m.role,
                "content": m.text(),
                "tool_calls": [c.model_dump() for c in m.tool_calls or []],
                "tool_call_id": m.tool_call_id,
            }
            for m in self.messages
        ]

    @property
    def engine_logprobs(self) -> int | None:
        return (self.top_logprobs or 0) if self.logprobs else None

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


TokenIds = list[Annotated[int, Field(ge=0)]]


class CompletionRequest(_Sampling):
    prompt: str | list[str] | TokenIds | list[TokenIds]
    max_tokens: int | None = Field(16, ge=0)
    logprobs: int | None = Field(None, ge=0, le=5)
    echo: bool = False

    @model_validator(mode="after")
    def _zero_needs_echo(self) -> "CompletionRequest":
        if self.max_tokens == 0 and not self.echo:
            raise ValueError("max_tokens=0 only scores the prompt: set echo=true (with logprobs)")
        return self

    def sampling(
        self,
        max_tokens: int,
        logprobs: int | None,
        choice: int,
        constraint: dict[str, Any] | None = None,
    ) -> SamplingParams:
        """With `echo`, the prompt's own log-probs too (OpenAI's legacy scoring request)."""
        p = super().sampling(max(max_tokens, 1), logprobs, choice, constraint)
        if self.echo and (logprobs is not None or max_tokens == 0):
            p.prompt_logprobs = logprobs or 0
        p.max_tokens = max_tokens
        return p

    def prompts(self) -> list[str | list[int]]:
        """One entry per prompt: text or token ids (OpenAI accepts all four shapes)."""
        p = self.prompt
        if isinstance(p, str):
            return [p]
        if not p:
            raise APIError(400, "prompt must not be empty", param="prompt")
        if all(isinstance(x, int) for x in p):
            return [list(p)]  # type: ignore[arg-type]
        return list(p)  # type: ignore[arg-type]

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_tokens


class EmbeddingRequest(_Request):
    model: str
    input: str | list[str] | TokenIds | list[TokenIds]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None

    def texts(self) -> list[str | list[int]]:
        x = self.input
        if isinstance(x, str):
            return [x]
        if not x:
            raise APIError(400, "input must not be empty", param="input")
        if all(isinstance(t, int) for t in x):
            return [list(x)]  # type: ignore[arg-type]
        return list(x)  # type: ignore[arg-type]


def parse(cls: type[_Request], body: Any) -> Any:
    """Validate a JSON body; the first problem becomes a 400 naming the field and the value."""
    if not isinstance(body, dict):
        raise APIError(400, "request body must be a JSON object")
    try:
        return cls.model_validate(body)
    except ValidationError as e:
        err = e.errors()[0]
        # drop pydantic's union-member tags ("str", "list[int]", ...), keep field names
        # ("stream_options" starts with "str" too)
        tag = lambda p: p == "str" or p.startswith(("list[", "str[", "function-"))  # noqa: E731
        loc = ".".join(str(p) for p in err["loc"] if not tag(str(p)))
        msg = err["msg"].removeprefix("Value error, ")
        got = "" if err["type"] == "missing" else f" (got {err.get('input')!r:.80})"
        raise APIError(400, f"invalid '{loc}': {msg}{got}", param=loc or None) from None
