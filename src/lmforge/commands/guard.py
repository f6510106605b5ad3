"""`lmforge guard scan|train|eval`: guardrails for prompts, answers and retrieved context."""

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from lmforge.commands.common import console

app = typer.Typer(
    help="Guardrails: injection/jailbreak detection, PII, output checks, policies.",
    no_args_is_help=True,
)
ConfigOpt = typer.Option(None, "--config", "-c", help="YAML mirroring the flags.")
RunsDir = typer.Option(None, "--runs-dir", help="Runs root (default $LMFORGE_RUNS_DIR or ./runs).")
Corpora = typer.Option(None, help="Comma-separated: s-labs,neuralchemy,yanismiraoui.")


def _split(v: str | None) -> list[str] | None:
    return [c.strip() for c in v.split(",") if c.strip()] if v else None


@app.command()
def scan(
    text: str | None = typer.Argument(None, help="Text to scan (default: read stdin)."),
    policy: Path | None = typer.Option(None, help="Policy YAML (default policy if omitted)."),
    stage: str = typer.Option("input", help="input | output | context."),
    key: str | None = typer.Option(None, help="Caller key for the per-key rate limit."),
    as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Scan one text with the policy's scanners and print the decision (exit 1 if blocked)."""
    from lmforge.errors import LMForgeError
    from lmforge.guard.guard import Guard
    from lmforge.runs import start_run

    if stage not in ("input", "output", "context"):
        raise LMForgeError(f"--stage {stage!r}: use input, output or context")
    body = text if text is not None else sys.stdin.read()
    guard = Guard.from_policy(policy)
    with start_run("guard", guard.policy, runs_dir) as run:
        if policy:
            run.add_input(policy, "policy")
        if stage == "input":
            d = guard.scan_input(body, key=key)
        elif stage == "output":
            d = guard.scan_output(body)
        else:
            d = guard.scan_chunks([body]).decisions[0]
        run.log_metrics(action=d.action, latency_ms=round(d.latency_ms, 2))
    if as_json:
        console.print_json(json.dumps(d.to_dict()))
    else:
        table = Table(title=f"guard {stage}: [bold]{d.action}[/] ({d.latency_ms:.1f} ms)")
        for col in ("scanner", "action", "score", "reason"):
            table.add_column(col)
        for v in d.verdicts:
            table.add_row(v.scanner, v.action, f"{v.score:.3f}", v.reason)
        console.print(table)
    if d.blocked:
        raise typer.Exit(1)


@app.command()
def train(
    config: Path | None = ConfigOpt,
    corpora: str | None = Corpora,
    target_fpr: float | None = typer.Option(None, help="Validation FPR the threshold aims at."),
    l2: float | None = typer.Option(None, help="L2 penalty on the head's weights."),
    max_iter: int | None = typer.Option(None, help="L-BFGS iterations."),
    seed: int | None = typer.Option(None, help="Random seed."),
    int8: bool | None = typer.Option(
        None, "--int8/--no-int8", help="Threshold for (and scan with) the int8 embedder."
    ),
    max_train: int | None = typer.Option(None, help="Train on N texts (smallest SHA-256)."),
    limit: int | None = typer.Option(None, help="Use only N examples per split (smoke runs)."),
    out: Path | None = typer.Option(None, help="Artifact path (JSON)."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Train the injection classifier (MiniLM + linear head) and pick its threshold."""
    from lmforge.config import load_config
    from lmforge.guard.config import GuardTrainConfig
    from lmforge.guard.train import train_classifier
    from lmforge.runs import start_run

    flags: dict[str, Any] = {
        "corpora": _split(corpora),
        "target_fpr": target_fpr,
        "l2": l2,
        "max_iter": max_iter,
        "seed": seed,
        "int8": int8,
        "max_train": max_train,
        "limit": limit,
        "out": out,
    }
    cfg = load_config(GuardTrainConfig, config, flags)
    with start_run("guard", cfg, runs_dir) as run:
        card = train_classifier(cfg, run)
    v = card["validation"]
    console.print(
        f"wrote {cfg.out}: threshold {card['threshold']:.4f}; validation P {v['precision']} "
        f"R {v['recall']} F1 {v['f1']} FPR {v['fpr']} (n={v['n']}); run {run.id}"
    )


@app.command("eval")
def eval_cmd(
    config: Path | None = ConfigOpt,
    corpora: str | None = Corpora,
    split: str | None = typer.Option(None, help="test (default) or validation."),
    policy: Path | None = typer.Option(None, help="Policy YAML (default policy if omitted)."),
    limit: int | None = typer.Option(None, help="Score only N examples (evenly spaced)."),
    latency_samples: int | None = typer.Option(None, help="Prompts timed through scan_input."),
    threads: int | None = typer.Option(None, help="torch CPU threads."),
    out: Path | None = typer.Option(None, help="Write the full report here (JSON)."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Precision, recall, F1, FPR (overall, per corpus, per category) and scan latency."""
    import torch

    from lmforge.config import load_config
    from lmforge.files import atomic_write_json
    from lmforge.guard.config import GuardEvalConfig, GuardPolicy
    from lmforge.guard.evaluate import evaluate
    from lmforge.runs import start_run

    flags: dict[str, Any] = {
        "corpora": _split(corpora),
        "split": split,
        "policy": policy,
        "limit": limit,
        "latency_samples": latency_samples,
        "threads": threads,
    }
    cfg = load_config(GuardEvalConfig, config, flags)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    pol = load_config(GuardPolicy, cfg.policy) if cfg.policy else GuardPolicy()
    with start_run("guard", cfg, runs_dir) as run:
        report = evaluate(cfg, pol)
        o = report["overall"]
        run.log_metrics(
            **{f"{d}_{k}": o[d][k] for d in o for k in ("precision", "recall", "f1", "fpr")},
            **{f"latency_{k}_ms": v for k, v in report.get("latency_ms", {}).items() if k != "n"},
        )
        if out:
            atomic_write_json(out, report)
            run.add_output(out, "report")
    _print_report(report)
    console.print(f"run {run.id}")


def _print_report(report: dict[str, Any]) -> None:
    table = Table(title=f"guard eval on {report['split']} (n={report['n']})")
    for col in ("detector", "group", "n", "precision", "recall", "F1", "FPR"):
        table.add_column(col)
    for det, m in report["overall"].items():
        table.add_row(det, "all", *(str(m[k]) for k in ("n", "precision", "recall", "f1", "fpr")))
    for det, groups in report["per_corpus"].items():
        for g, m in groups.items():
            row = (str(m[k]) for k in ("n", "precision", "recall", "f1", "fpr"))
            table.add_row(det, g, *row)
    console.print(table)
    if lat := report.get("latency_ms"):
        console.print(
            f"scan_input: p50 {lat['p50']} ms, p95 {lat['p95']} ms (CPU p50 {lat['cpu_p50']} ms)"
        )
