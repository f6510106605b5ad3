"""`lmforge eval run|compare|report|tasks`."""

import json
from pathlib import Path

import typer
from rich.table import Table

from lmforge.commands.common import console
from lmforge.config import load_config

app = typer.Typer(
    help="Evaluate: benchmarks, metrics, sandboxed code, LLM judge, regression gates.",
    no_args_is_help=True,
)
RunsDir = typer.Option(None, "--runs-dir", help="Runs root (default $LMFORGE_RUNS_DIR or ./runs).")


def _scores_table(results: dict) -> Table:
    table = Table(title="eval results")
    for col in ("task", "metric", "score", "CI", "n", "seconds"):
        table.add_column(col)
    for name, task in results["tasks"].items():
        for m, s in task["scores"].items():
            ci = f"[{s['low']:.4f}, {s['high']:.4f}]"
            table.add_row(name, m, f"{s['value']:.4f}", ci, str(s["n"]), str(task["wall_s"]))
    return table


@app.command("run")
def run_cmd(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML mirroring the flags."),
    model: str | None = typer.Option(None, help="'default', an HF dir, a .gguf, or served name."),
    backend: str | None = typer.Option(None, help="hf | openai | engine."),
    base_url: str | None = typer.Option(None, help="openai backend: server URL."),
    api_key: str | None = typer.Option(None, help="openai backend: bearer token."),
    tasks: str | None = typer.Option(None, help="Comma-separated task names or YAML paths."),
    limit: int | None = typer.Option(None, help="First N items of each task."),
    limit_per_subject: int | None = typer.Option(
        None, help="First N items of each subject (stratified quick run)."
    ),
    subject_field: str | None = typer.Option(None, help="Item field of the subject (subject)."),
    sample: int | None = typer.Option(None, help="N items per task, seeded random sample."),
    sample_seed: int | None = typer.Option(None, help="Seed of --sample (0)."),
    num_fewshot: int | None = typer.Option(None, help="Override every task's few-shot k."),
    n_samples: int | None = typer.Option(None, help="Override code tasks' samples/problem."),
    batch_size: int | None = typer.Option(None, help="Batch size / parallel requests."),
    device: str | None = typer.Option(None, help="hf backend: torch device."),
    n_bootstrap: int | None = typer.Option(None, help="Bootstrap resamples."),
    confidence: float | None = typer.Option(None, help="Interval confidence, e.g. 0.95."),
    seed: int | None = typer.Option(None, help="Bootstrap seed."),
    threads: int | None = typer.Option(None, help="torch CPU threads."),
    data: Path | None = typer.Option(None, help="Replace the data file of every task."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Evaluate a model on tasks; write results.json and report.html into the run directory."""
    from lmforge.eval.config import EvalConfig
    from lmforge.eval.evaluate import evaluate

    overrides = {
        "model": model,
        "backend": backend,
        "base_url": base_url,
        "api_key": api_key,
        "tasks": tasks.split(",") if tasks else None,
        "limit": limit,
        "limit_per_subject": limit_per_subject,
        "subject_field": subject_field,
        "sample": sample,
        "sample_seed": sample_seed,
        "num_fewshot": num_fewshot,
        "n_samples": n_samples,
        "batch_size": batch_size,
        "device": device,
        "n_bootstrap": n_bootstrap,
        "confidence": confidence,
        "seed": seed,
        "threads": threads,
    }
    cfg = load_config(EvalConfig, config, overrides)
    run_id, results = evaluate(cfg, runs_dir=runs_dir, data=data)
    console.print(_scores_table(results))
    console.print(f"run {run_id}: results.json and report.html in its directory")


@app.command("compare")
def compare_cmd(
    run_a: str = typer.Argument(..., help="Baseline run id (or run dir / results.json)."),
    run_b: str = typer.Argument(..., help="Candidate run id (or run dir / results.json)."),
    threshold: float | None = typer.Option(None, help="Tolerated drop, in metric units."),
    n_bootstrap: int | None = typer.Option(None, help="Bootstrap resamples."),
    confidence: float | None = typer.Option(None, help="Interval confidence."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Paired-bootstrap differences B - A per task and metric; exit 1 on a regression."""
    from lmforge.eval.compare import compare, load_results
    from lmforge.eval.config import CompareConfig
    from lmforge.eval.report import render_comparison
    from lmforge.files import atomic_write_json, atomic_write_text
    from lmforge.runs import start_run

    cfg = load_config(
        CompareConfig,
        None,
        {
            "run_a": run_a,
            "run_b": run_b,
            "threshold": threshold,
            "n_bootstrap": n_bootstrap,
            "confidence": confidence,
        },
    )
    id_a, res_a = load_results(cfg.run_a, runs_dir)
    id_b, res_b = load_results(cfg.run_b, runs_dir)
    with start_run("eval-compare", cfg, runs_dir) as run:
        result = compare(res_a, res_b, cfg)
        result.update(run_a=id_a, run_b=id_b)
        atomic_write_json(run.dir / "comparison.json", result)
        atomic_write_text(run.dir / "report.html", render_comparison(result, f"{id_b} vs {id_a}"))
        run.add_output(run.dir / "comparison.json")
        run.add_output(run.dir / "report.html")
        run.log_metrics(regressions=result["regressions"])
    table = Table(title=f"B={id_b} vs A={id_a}")
    for col in ("task", "metric", "A", "B", "B-A", "CI", "p", "n", ""):
        table.add_column(col)
    for r in result["rows"]:
        flag = "[red]REGRESSION[/]" if r["regression"] else ""
        ci = f"[{r['low']:+.4f}, {r['high']:+.4f}]"
        table.add_row(
            r["task"],
            r["metric"],
            f"{r['a']:.4f}",
            f"{r['b']:.4f}",
            f"{r['delta']:+.4f}",
            ci,
            f"{r['p_value']:.3f}",
            str(r["n"]),
            flag,
        )
    console.print(table)
    if result["regressions"]:
        console.print(f"[red]{result['regressions']} regression(s)[/] beyond {cfg.threshold}")
        raise typer.Exit(1)


@app.command("report")
def report_cmd(
    run: str = typer.Argument(..., help="Eval run id (or run dir / results.json)."),
    runs_dir: Path | None = RunsDir,
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
) -> None:
    """Re-render report.html from a run's results.json and print its scores."""
    from lmforge.eval.compare import load_results
    from lmforge.eval.evaluate import write_report

    run_id, results = load_results(run, runs_dir)
    path = write_report(results, run_id)
    if as_json:
        scores = {t: r["scores"] for t, r in results["tasks"].items()}
        console.print_json(json.dumps(scores))
        return
    console.print(_scores_table(results))
    console.print(f"report: {path}")


@app.command("tasks")
def tasks_cmd() -> None:
    """The shipped tasks."""
    from lmforge.eval.taskspec import load_task, shipped_tasks

    table = Table(title="tasks")
    for col in ("name", "kind", "few-shot", "metrics", "title"):
        table.add_column(col)
    for name in shipped_tasks():
        t = load_task(name)
        default = {
            "code": "pass@k",
            "perplexity": "perplexity",
            "json_schema": "parsed, valid, field_acc",
            "faithfulness": "faithfulness, label_agreement, unjudged",
        }
        metrics = ", ".join(t.metrics) or default.get(t.kind, "(kind's own)")
        table.add_row(name, t.kind, str(t.fewshot.k), metrics, t.title)
    console.print(table)
