"""`lmforge serve`: the OpenAI-compatible server (see docs/serve.md)."""

from pathlib import Path

import typer

from lmforge.commands.common import console
from lmforge.errors import ConfigError

app = typer.Typer(help="Serve an OpenAI-compatible API with streaming, auth and metrics.")


@app.callback(invoke_without_command=True)
def serve(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML mirroring the flags."),
    model: str | None = typer.Option(None, help="'default' or a local HF model directory."),
    served_model_name: str | None = typer.Option(None, help="Model name clients pass."),
    quantize: str | None = typer.Option(None, help="none, int8 or int4 (weight-only)."),
    host: str | None = typer.Option(None, help="Bind address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="TCP port (default 8000; 0 = any free)."),
    api_key: list[str] | None = typer.Option(None, help="Accepted key (repeatable)."),
    api_keys_file: Path | None = typer.Option(None, help="File with one key per line."),
    max_queue: int | None = typer.Option(None, help="Queued sequences before 429."),
    kv_cache: float | None = typer.Option(None, "--kv-cache", help="KV cache size in GB."),
    max_num_seqs: int | None = typer.Option(None, help="Sequences running at once."),
    max_model_len: int | None = typer.Option(None, help="Longest prompt + output."),
    threads: int | None = typer.Option(None, help="torch CPU threads."),
    adapter: list[str] | None = typer.Option(
        None, help="LoRA adapter to serve, NAME=PEFT_DIR (repeatable; model 'base:NAME')."
    ),
    max_loras: int | None = typer.Option(None, help="LoRA adapters held in memory (LRU)."),
    adapter_dir: Path | None = typer.Option(
        None, help="Folder run-time adapter loads (POST /v1/adapters) may read from."
    ),
    speculative: str | None = typer.Option(None, help="Speculative decoding: off, ngram, draft."),
    spec_draft_model: str | None = typer.Option(None, help="Draft model for --speculative draft."),
    max_body_bytes: int | None = typer.Option(None, help="Largest request body (else 413)."),
    drain_timeout_s: float | None = typer.Option(None, help="SIGTERM grace period (s)."),
    embeddings: bool | None = typer.Option(None, help="Serve /v1/embeddings (MiniLM)."),
    rag_index: Path | None = typer.Option(None, help="Serve POST /v1/rag/ask over this index."),
    rag_config: Path | None = typer.Option(None, help="RagConfig YAML for the RAG route."),
    self_check: str | None = typer.Option(
        None, help="RAG route self-check: off, drop, regenerate, refuse (per-request override)."
    ),
    guard_policy: Path | None = typer.Option(None, help="lmforge guard policy YAML."),
    log_prompts: bool | None = typer.Option(None, help="Log prompts and outputs too."),
    web_console: bool | None = typer.Option(
        None, "--console/--no-console", help="Serve the web console at /console."
    ),
    runs_dir: Path | None = typer.Option(None, help="Runs root (default ./runs)."),
) -> None:
    """Load the model in the background (503 until ready), serve /v1, drain on SIGTERM."""
    from lmforge.config import load_config
    from lmforge.runs import start_run
    from lmforge.serve.config import ServeConfig
    from lmforge.serve.server import bind, build_state
    from lmforge.serve.server import serve as run_server

    cfg = load_config(
        ServeConfig,
        config,
        {
            "model": model,
            "served_model_name": served_model_name,
            "quantize": quantize,
            "host": host,
            "port": port,
            "api_key": api_key or None,
            "api_keys_file": api_keys_file,
            "max_queue": max_queue,
            "kv_cache_gb": kv_cache,
            "max_num_seqs": max_num_seqs,
            "max_model_len": max_model_len,
            "threads": threads,
            "adapters": adapter_map(adapter),
            "max_loras": max_loras,
            "adapter_dir": adapter_dir,
            "speculative": speculative,
            "spec_draft_model": spec_draft_model,
            "max_body_bytes": max_body_bytes,
            "drain_timeout_s": drain_timeout_s,
            "embeddings": embeddings,
            "rag_index": rag_index,
            "rag_config": rag_config,
            "self_check": self_check,
            "guard_policy": guard_policy,
            "log_prompts": log_prompts,
            "console": web_console,
            "runs_dir": runs_dir,
        },
    )
    state = build_state(cfg)
    sock = bind(cfg.host, cfg.port)
    url = f"http://{cfg.host}:{sock.getsockname()[1]}"
    with start_run("serve", cfg, cfg.runs_dir) as run:
        if cfg.guard_policy:
            run.add_input(cfg.guard_policy, role="guard_policy")
        state.run_dir = run.dir
        auth = f"{len(state.keys)} key(s)" if state.keys else "off"
        console.print(f"serving {state.model_name} at {url}/v1 (auth {auth}); run {run.id}")
        if cfg.console:
            console.print(f"web console: {url}/console")
        run_server(state, sock)
        if (run.dir / "self_check.jsonl").is_file():
            run.add_output(run.dir / "self_check.jsonl", "self_check")
        s = state.engine.stats() if state.engine else None
        if s is not None:
            run.log_metrics(
                prompt_tokens=s.prompt_tokens,
                generation_tokens=s.generation_tokens,
                num_steps=s.num_steps,
                num_preemptions=s.num_preemptions,
            )


def adapter_map(items: list[str] | None) -> dict[str, str] | None:
    """--adapter NAME=DIR flags -> {NAME: DIR}; a flag without '=' is a one-line error."""
    if not items:
        return None
    bad = [x for x in items if "=" not in x or x.startswith("=") or x.endswith("=")]
    if bad:
        raise ConfigError(
            f"--adapter {bad[0]!r}: give NAME=PEFT_DIR, e.g. --adapter sql=runs/x/adapter"
        )
    return dict(x.split("=", 1) for x in items)


def bench_serve(
    url: str = typer.Option("http://127.0.0.1:8000", help="Server base URL (loopback only)."),
    model: str = typer.Option("smollm2-135m-instruct", help="Model name the server serves."),
    concurrency: str = typer.Option("1,4,16,64", help="Comma-separated concurrency levels."),
    requests: int = typer.Option(64, help="Requests per level."),
    max_tokens: int = typer.Option(64, help="Output tokens per request (ignore_eos)."),
    api_key: str | None = typer.Option(None, help="Bearer key, if the server wants one."),
    time_limit_s: float = typer.Option(120.0, help="Stop sending new requests after this."),
    plot_path: Path = typer.Option(Path("bench-serve.png"), "--plot", help="PNG to write."),
    runs_dir: Path | None = typer.Option(None, help="Runs root (default ./runs)."),
) -> None:
    """Load-test an OpenAI-compatible server: throughput, TTFT and ITL p50/p90/p99 per level."""
    from rich.table import Table

    from lmforge.runs import start_run
    from lmforge.serve.loadgen import plot, run_bench

    levels = [int(x) for x in concurrency.split(",") if x.strip()]
    cfg = {"url": url, "model": model, "concurrency": levels, "requests": requests,
           "max_tokens": max_tokens, "time_limit_s": time_limit_s}  # fmt: skip
    with start_run("bench-serve", cfg, runs_dir) as run:
        rows = run_bench(url, model, levels, requests, max_tokens, api_key, time_limit_s)
        run.add_output(plot({model: rows}, plot_path), role="plot")
        run.log_metrics(levels=rows)
    table = Table(title=f"lmforge bench serve: {url}")
    for col in rows[0]:
        table.add_column(col)
    for r in rows:
        table.add_row(*(f"{v:.1f}" if isinstance(v, float) else str(v) for v in r.values()))
    console.print(table)
