"""`gateway.yaml`: the backends, the virtual models clients ask for, keys, caches, reliability.

    backends:
      - {name: small, kind: engine, model: default, price_in: 0.1, price_out: 0.1}
      - {name: big, kind: openai, url: https://api.example.com/v1, model: gpt-x,
         api_key_env: EXAMPLE_API_KEY, price_in: 1.0, price_out: 4.0, tags: [paid]}
    models:
      - {name: auto, policy: cascade, backends: [small, big], threshold: 1.2}
    keys:
      - {key_env: TEAM_A_KEY, name: team-a, budget_usd: 5.0}

Prices are per million tokens (the unit providers publish). Secrets are never in the file:
`api_key_env` / `key_env` name environment variables, read at start-up, so the config (which
is copied into the run directory) holds nothing secret.
"""

import os
from typing import Literal

from pydantic import Field, model_validator

from lmforge.config import StageConfig
from lmforge.errors import ConfigError

BackendKind = Literal["engine", "serve", "openai"]
Policy = Literal["fixed", "weighted", "latency", "cheapest", "cascade"]
Signal = Literal["margin", "selfcheck", "router", "answer_router"]


class BackendConfig(StageConfig):
    """One upstream: an in-process engine, an `lmforge serve` instance, or any OpenAI URL."""

    name: str = Field(description="Name used in routes, metrics and the report.")
    kind: BackendKind = Field(description="engine (in-process), serve or openai (HTTP).")
    model: str = Field("default", description="engine: model ref; HTTP: the upstream model name.")
    url: str | None = Field(None, description="serve/openai: base URL ending in /v1.")
    api_key_env: str | None = Field(None, description="Env var holding the upstream's key.")
    price_in: float = Field(0.0, ge=0, description="Price per 1M input tokens.")
    price_out: float = Field(0.0, ge=0, description="Price per 1M output tokens.")
    context: int = Field(8192, ge=1, description="Context limit (prompt + max_tokens).")
    tags: list[str] = Field(default_factory=list, description="Free labels (local, paid, ...).")
    quality: float = Field(0.0, ge=0, le=1, description="Measured quality (cheapest policy).")
    tokenizer: str | None = Field(
        None,
        description="Tokenizer for local counting when upstream sends no usage "
        "(default: the engine's own; 'default' for the default model's).",
    )
    timeout_s: float = Field(60.0, gt=0, description="Per-attempt timeout.")
    quantize: Literal["none", "int8", "int4"] = Field("none", description="engine: weights.")
    threads: int | None = Field(None, ge=1, description="engine: torch CPU threads.")
    max_model_len: int | None = Field(None, ge=1, description="engine: longest prompt+output.")
    kv_cache_gb: float | None = Field(None, gt=0, description="engine: KV cache size in GB.")

    @model_validator(mode="after")
    def _check(self) -> "BackendConfig":
        if self.kind != "engine" and not self.url:
            raise ValueError(f"backend {self.name!r}: kind {self.kind} needs url (…/v1)")
        return self

    def upstream_key(self) -> str | None:
        """The upstream's key from its env var (never stored anywhere else)."""
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(
                f"backend {self.name!r}: environment variable {self.api_key_env} is not set; "
                "export it before starting the gateway"
            )
        return key


class ModelRoute(StageConfig):
    """A model name clients send, and how it picks among its backends."""

    name: str
    policy: Policy = "fixed"
    backends: list[str] = Field(min_length=1, description="In order: preference / cheap first.")
    weights: list[float] | None = Field(None, description="weighted: one per backend.")
    min_quality: float = Field(0.0, ge=0, le=1, description="cheapest: the quality bar.")
    signal: Signal = Field("margin", description="cascade: the confidence signal.")
    threshold: float = Field(
        1.0,
        description="cascade: escalate when confidence < this (router signals: the router "
        "file's dev-chosen threshold when not given).",
    )
    router: str | None = Field(None, description="cascade/router: path of a trained router.")

    @model_validator(mode="after")
    def _check(self) -> "ModelRoute":
        if self.weights is not None and len(self.weights) != len(self.backends):
            raise ValueError(f"model {self.name!r}: give one weight per backend")
        if self.policy == "cascade" and len(self.backends) < 2:
            raise ValueError(f"model {self.name!r}: a cascade needs 2+ backends, cheap first")
        routed = self.signal in ("router", "answer_router") and self.policy == "cascade"
        if routed and not self.router:
            raise ValueError(f"model {self.name!r}: signal {self.signal} needs router: <path>")
        return self


class KeyConfig(StageConfig):
    """A client key and its budgets (None = unlimited)."""

    name: str
    key_env: str = Field(description="Env var holding the key clients send as Bearer.")
    budget_requests: int | None = Field(None, ge=0)
    budget_tokens: int | None = Field(None, ge=0)
    budget_usd: float | None = Field(None, ge=0)


class CacheConfig(StageConfig):
    exact: bool = True
    semantic: bool = False
    ttl_s: float = Field(3600.0, gt=0)
    max_entries: int = Field(10_000, ge=1)
    semantic_threshold: float = Field(
        0.9, gt=0, le=1, description="Cosine bar (chosen on the shipped near-miss set)."
    )
    judge: str | None = Field(
        None,
        description="Backend asked whether a grey-zone candidate (above the bar, same "
        "structure, refused for its words) asks the same thing (gateway/judge.py).",
    )
    judge_threshold: float = Field(
        0.5, ge=0, le=1, description="The judge's P(yes) bar (choose it on a dev split)."
    )
    judge_candidates: int = Field(1, ge=1, description="Grey-zone candidates judged per lookup.")


class ReliabilityConfig(StageConfig):
    attempts: int = Field(3, ge=1, description="Tries per backend (5xx/429/timeouts retry).")
    backoff_s: float = Field(0.2, ge=0, description="First retry delay (doubles, +jitter).")
    max_backoff_s: float = Field(5.0, ge=0, description="Cap of a delay, Retry-After included.")
    breaker_failures: int = Field(5, ge=1, description="Consecutive failures that open it.")
    breaker_reset_s: float = Field(30.0, gt=0, description="Open time before a trial request.")


class GatewayConfig(StageConfig):
    """`lmforge gateway serve -c gateway.yaml`."""

    backends: list[BackendConfig] = Field(min_length=1)
    models: list[ModelRoute] = Field(default_factory=list, description="Virtual models.")
    keys: list[KeyConfig] = Field(default_factory=list, description="Empty = no auth.")
    cache: CacheConfig = Field(default_factory=CacheConfig)
    reliability: ReliabilityConfig = Field(default_factory=ReliabilityConfig)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(4 << 20, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "GatewayConfig":
        names = [b.name for b in self.backends]
        if len(set(names)) != len(names):
            raise ValueError(f"backend names must be unique, got {names}")
        for m in self.models:
            unknown = [b for b in m.backends if b not in names]
            if unknown:
                raise ValueError(f"model {m.name!r}: unknown backends {unknown}; known {names}")
            if m.name in names:
                raise ValueError(f"model {m.name!r} has a backend's name; pick another")
        if self.cache.judge is not None and self.cache.judge not in names:
            raise ValueError(f"cache judge {self.cache.judge!r} is not a backend; known {names}")
        return self

    def routes(self) -> dict[str, ModelRoute]:
        """Every name a client may send: the virtual models, and each backend by its name."""
        out = {b.name: ModelRoute(name=b.name, backends=[b.name]) for b in self.backends}
        out.update({m.name: m for m in self.models})
        return out
