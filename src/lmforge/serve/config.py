"""`ServeConfig`: what `lmforge serve` needs; examples/serve/serve.yaml mirrors it 1:1."""

from pathlib import Path
from typing import Literal

from pydantic import Field

from lmforge.config import StageConfig


class ServeConfig(StageConfig):
    """The OpenAI-compatible server: model, engine budget, network, auth, limits, logging."""

    model: str = Field("default", description="Model: 'default' or a local HF directory.")
    served_model_name: str | None = Field(
        None, description="Name clients pass as `model` (default: the model dir's name)."
    )
    quantize: Literal["none", "int8", "int4"] = Field(
        "none", description="Weight-only quantization of the engine's linear layers."
    )
    host: str = Field("127.0.0.1", description="Bind address (loopback unless told otherwise).")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0 = pick a free one).")
    api_key: list[str] = Field(
        default_factory=list, description="Accepted bearer keys (none and no file = no auth)."
    )
    api_keys_file: Path | None = Field(
        None, description="File with one accepted key per line ('#' starts a comment)."
    )
    max_queue: int = Field(
        64, ge=0, description="Sequences allowed to wait beyond max_num_seqs before 429."
    )
    kv_cache_gb: float | None = Field(None, gt=0, description="KV cache size in GB.")
    max_num_seqs: int = Field(16, ge=1, description="Sequences the engine runs at once.")
    max_model_len: int | None = Field(
        None, ge=1, description="Longest prompt+output (default: the model's max positions)."
    )
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all).")
    adapters: dict[str, str] = Field(
        default_factory=dict,
        description="LoRA adapters to load at start, name -> PEFT directory; requests pick one "
        "with model 'base:name' or 'name' (more load at run time via POST /v1/adapters).",
    )
    max_loras: int = Field(8, ge=1, description="LoRA adapters held in memory (LRU).")
    adapter_dir: Path | None = Field(
        None,
        description="Folder that POST /v1/adapters may load from (a path relative to it, or an "
        "absolute one inside it); unset, run-time loading is refused (start-up adapters load).",
    )
    speculative: Literal["off", "ngram", "draft"] = Field(
        "off", description="Speculative decoding policy: prompt lookup, a draft model, or off."
    )
    spec_draft_model: str | None = Field(
        None, description="Draft model directory for speculative='draft' (same tokenizer)."
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest request body accepted (else 413)."
    )
    drain_timeout_s: float = Field(
        30.0, ge=0, description="Grace period for in-flight requests after SIGTERM."
    )
    embeddings: bool = Field(True, description="Serve /v1/embeddings with MiniLM ([rag] extra).")
    rag_index: Path | None = Field(
        None, description="Serve POST /v1/rag/ask over this index (built by `lmforge rag index`)."
    )
    rag_config: Path | None = Field(
        None, description="RagConfig YAML for the RAG route (retriever, top_k, verifier, ...)."
    )
    self_check: Literal["off", "drop", "regenerate", "refuse"] | None = Field(
        None,
        description="RAG route's default self-check (else rag_config's, off); a request's "
        "`self_check` overrides it.",
    )
    guard_policy: Path | None = Field(
        None, description="lmforge guard policy YAML: scan prompts and outputs."
    )
    log_prompts: bool = Field(False, description="Put prompts and outputs in the request logs.")
    console: bool = Field(True, description="Serve the web console at /console.")
    runs_dir: Path | None = Field(
        None, description="Runs the console lists (default $LMFORGE_RUNS_DIR, else ./runs)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="uvicorn log level."
    )
