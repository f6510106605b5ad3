"""`lmforge console`: the web console over a runs dir, in front of a model server or gateway."""

from pathlib import Path

import typer

from lmforge.commands.common import console


def console_cmd(
    upstream: str | None = typer.Option(
        None, help="OpenAI-compatible server or gateway to proxy /v1 and /metrics to."
    ),
    upstream_key: str | None = typer.Option(
        None, help="API key sent upstream when the browser sends none."
    ),
    runs_dir: Path | None = typer.Option(None, help="Runs root (default ./runs)."),
    host: str = typer.Option("127.0.0.1", help="Bind address."),
    port: int = typer.Option(8080, help="TCP port (0 = any free)."),
) -> None:
    """Browse runs (manifests, lineage, evals, losses, data funnel) and chat with a server."""
    import uvicorn

    from lmforge.runs import runs_root
    from lmforge.serve.console_app import create_console_app
    from lmforge.serve.server import bind

    root = runs_root(runs_dir)
    sock = bind(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}/console"
    console.print(f"console at {url} (runs: {root}, upstream: {upstream or 'none'})")
    app = create_console_app(root, upstream.rstrip("/") if upstream else None, upstream_key)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
