"""`lmforge guard scan|train|eval`: guardrails for prompts, answers and retrieved context."""

import json
import sys
from collections.abc import Iterator
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
    input_file: Path | None = typer.Option(
        None,
        "--input",
        "-i",
        help="Scan many texts: a .jsonl file (one object per line, see --text-field), any other "
        "file (one text per line), or - for stdin; prints one JSON verdict per line.",
    ),
    text_field: str = typer.Option("text", help="Field holding the text in --input JSONL."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Scan a text (or, with --input, a stream of texts) and print the decision.

    Exit code 1 when a text is blocked. MiniLM loads once, so a stream of texts costs one model
    load plus ~15 ms per text.
    """
    from lmforge.errors import LMForgeError
    from lmforge.guard.guard import Guard
    from lmforge.runs import start_run

    if stage not in ("input", "output", "context"):
        raise LMForgeError(f"--stage {stage!r}: use input, output or context")
    if input_file is not None and text is not None:
        raise LMForgeError("give either a TEXT argument or --input, not both")
    texts = _stream(input_file, text_field) if input_file is not None else None
    body = "" if texts is not None else text if text is not None else sys.stdin.read()
    guard = Guard.from_policy(policy)

    def one(t: str) -> Any:
        if stage == "input":
            return guard.scan_input(t, key=key)
        if stage == "output":
            return guard.scan_output(t)
        return guard.scan_chunks([t]).decisions[0]

    with start_run("guard", guard.policy, runs_dir) as run:
        if policy:
            run.add_input(policy, "policy")
        if texts is not None:
            counts = {"allow": 0, "flag": 0, "block": 0}
            for i, t in enumerate(texts):
                d = one(t)
                counts[d.action] += 1
                row = {"index": i, "action": d.action, "reason": d.reason}
                row["latency_ms"] = round(d.latency_ms, 2)
                row["verdicts"] = [v.to_dict() for v in d.verdicts]
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
                sys.stdout.flush()  # stream: a consumer sees each verdict as it is made
            run.log_metrics(**{f"n_{k}": v for k, v in counts.items()})
            if counts["block"]:
                raise typer.Exit(1)
            return
        d = one(body)
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


def _stream(path: Path, text_field: str) -> Iterator[str]:
    """Texts from `path` (or stdin for '-'), read lazily so a pipe is scanned as it arrives."""
    from lmforge.errors import LMForgeError

    name = str(path)
    if name != "-" and not path.is_file():
        raise LMForgeError(f"--input {path}: no such file")
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    f = sys.stdin if name == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            if not jsonl:
                yield line.rstrip("\n")
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise LMForgeError(f"{name}:{i}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get(text_field), str):
                raise LMForgeError(
                    f"{name}:{i}: no string field {text_field!r}; name it with --text-field"
                )
            yield row[text_field]
    finally:
        if f is not sys.stdin:
            f.close()


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
    data: str | None = typer.Option(
        None,
        help="Comma-separated JSONL/CSV files with a text and a label field (or the shipped "
        "sets tricky-benign, tool-injection, or a part of their template split: "
        "tricky-benign:test), scored instead of the corpora.",
    ),
    text_field: str | None = typer.Option(None, help="Text field in --data files (text)."),
    label_field: str | None = typer.Option(None, help="Label field in --data files (label)."),
    label_map: str | None = typer.Option(
        None, help="Map label values to 0/1: 'jailbreak=1,benign=0' (default: 0/1/true/false)."
    ),
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
        "data": _split(data),
        "text_field": text_field,
        "label_field": label_field,
        "label_map": label_map,
        "limit": limit,
        "latency_samples": latency_samples,
        "threads": threads,
    }
    cfg = load_config(GuardEvalConfig, config, flags)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    pol = load_config(GuardPolicy, cfg.policy) if cfg.policy else GuardPolicy()
    with start_run("guard", cfg, runs_dir) as run:
        for src in cfg.data:
            if Path(src).is_file():
                run.add_input(src, "data")
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
