"""`lmforge gateway`: serve the routing gateway, report its ledger, train a cascade router."""

import json
import math
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from lmforge.commands.common import console

app = typer.Typer(
    help="One OpenAI-compatible endpoint routing between local models and paid APIs.",
    no_args_is_help=True,
)
RunsDir = typer.Option(None, "--runs-dir", help="Runs root (default ./runs).")


@app.command("serve")
def serve(
    config: Path = typer.Option(..., "--config", "-c", help="gateway.yaml (see docs/gateway.md)."),
    host: str | None = typer.Option(None, help="Bind address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="TCP port (default 8080; 0 = any free)."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Serve /v1 in front of the configured backends until Ctrl-C; the ledger goes to the run."""
    from lmforge.config import load_config
    from lmforge.gateway.config import GatewayConfig
    from lmforge.gateway.server import read_keys
    from lmforge.gateway.server import serve as run_server
    from lmforge.runs import start_run
    from lmforge.serve.server import bind

    cfg = load_config(GatewayConfig, config, {"host": host, "port": port})
    read_keys(cfg)  # fail on a missing key env var before binding
    for b in cfg.backends:
        b.upstream_key()
    sock = bind(cfg.host, cfg.port)
    url = f"http://{cfg.host}:{sock.getsockname()[1]}"
    with start_run("gateway", cfg, runs_dir) as run:
        run.add_input(config, role="config")
        names = ", ".join(sorted(cfg.routes()))
        console.print(f"gateway at {url}/v1 (models: {escape(names)}); run {run.id}")
        gw = run_server(cfg, sock, run.dir)
        t = gw.ledger.to_json()["lines"]
        run.log_metrics(
            requests=sum(x["requests"] for x in t),
            cost=round(sum(x["cost"] for x in t), 6),
            cache_hits=sum(x["cache_hits"] for x in t),
        )


@app.command("report")
def report(
    run: str | None = typer.Argument(None, help="Gateway run id (default: the latest)."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Per key and backend: requests, tokens in/out, cost, mean latency, cache hits, errors."""
    from lmforge.gateway.report import report_rows

    run_id, rows = report_rows(run, runs_dir)
    table = Table(title=f"lmforge gateway report: {run_id}")
    cols = (
        "key",
        "backend",
        "requests",
        "tokens_in",
        "tokens_out",
        "cost",
        "mean_latency_ms",
        "cache_hits",
        "errors",
    )
    for c in cols:
        table.add_column(c, justify="left" if c in ("key", "backend") else "right")
    for r in rows:
        table.add_row(
            escape(r["key"]),
            escape(r["backend"]),
            str(r["requests"]),
            str(r["tokens_in"]),
            str(r["tokens_out"]),
            f"{r['cost']:.6f}",
            f"{r['mean_latency_ms']:.1f}",
            str(r["cache_hits"]),
            str(r["errors"]),
        )
    console.print(table)


@app.command("train-router")
def train_router(
    cheap: str = typer.Option(..., help="Eval run (id, dir or results.json) of the cheap model."),
    strong: str = typer.Option(..., help="Eval run of the strong model, same task and items."),
    task: str | None = typer.Option(None, help="Task to use (default: the only shared one)."),
    metric: str | None = typer.Option(None, help="Item score that means right (>= 0.5)."),
    price_ratio: float = typer.Option(10.0, help="Strong price / cheap price per item."),
    target: float = typer.Option(0.95, help="Keep >= this x the strong model's dev accuracy."),
    ci: float = typer.Option(
        0.95, help="The bar is on this bootstrap interval's lower end of dev accuracy (0: point)."
    ),
    kind: str = typer.Option(
        "prompt", help="prompt: before any call; answer: over (prompt, cheap answer)."
    ),
    positive: str | None = typer.Option(None, help="answer: the label answers are signed by."),
    out: Path | None = typer.Option(None, help="Also write the router here (a directory)."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Fit P(cheap right | prompt [, cheap answer]) and choose the cascade threshold on dev."""
    from lmforge.errors import LMForgeError
    from lmforge.eval.compare import load_results
    from lmforge.gateway.train_router import train_router as fit
    from lmforge.runs import start_run

    cid, a = load_results(cheap, runs_dir)
    sid, b = load_results(strong, runs_dir)
    cfg = {
        "cheap": cid,
        "strong": sid,
        "task": task,
        "metric": metric,
        "price_ratio": price_ratio,
        "target": target,
        "ci": ci,
        "kind": kind,
        "positive": positive,
    }
    with start_run("gateway-router", cfg, runs_dir) as run:
        if kind not in ("prompt", "answer"):
            raise LMForgeError(f"train-router: --kind is prompt or answer, not {kind!r}")
        router, meta = fit(
            a, b, task, metric, price_ratio, target, kind=kind, positive=positive, ci=ci or None
        )
        router.save(run.dir / "router")
        if out is not None:
            router.save(out)
        thr = meta["threshold"]
        run.log_metrics(threshold=thr if math.isfinite(thr) else str(thr), **meta["dev"])
    console.print(json.dumps(meta, indent=1, default=str))
    where = out or run.dir / "router"
    console.print(
        f"router in {where}; in gateway.yaml: "
        f"{{policy: cascade, signal: {'router' if kind == 'prompt' else 'answer_router'}, "
        f"router: {where}}}  (threshold {thr:.4g} from the router file)"
    )
