"""`lmforge eval run|report|compare` end to end on the tiny model, with real shipped data."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.errors import LMForgeError

runner = CliRunner()


def small_code_task(tmp_path: Path) -> Path:
    """HumanEval with short generations, so the tiny model finishes in seconds."""
    text = Path(__file__).parents[2] / "src/lmforge/eval/tasks/humaneval.yaml"
    body = text.read_text().replace("name: humaneval", "name: humaneval_short")
    body = body.replace("max_new_tokens: 384", "max_new_tokens: 8").replace(
        "n_samples: 1", "n_samples: 2"
    )
    body = body.replace("k: [1]", "k: [1, 2]").replace("temperature: 0.0", "temperature: 0.8")
    path = tmp_path / "humaneval_short.yaml"
    path.write_text(body)
    return path


@pytest.fixture(scope="module")
def eval_run(tiny_llama_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evalrun")
    runs = tmp / "runs"
    tasks = f"gpqa_diamond,mmlu_format,perplexity,{small_code_task(tmp)}"
    args = [
        "eval",
        "run",
        "--model",
        str(tiny_llama_dir),
        "--tasks",
        tasks,
        "--limit",
        "4",
        "--n-bootstrap",
        "200",
        "--threads",
        "1",
        "--runs-dir",
        str(runs),
    ]
    out = runner.invoke(app, args, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    (run_dir,) = [d for d in runs.iterdir() if d.name.startswith("eval-")]
    return run_dir


def test_run_writes_results_report_and_manifest(eval_run):
    results = json.loads((eval_run / "results.json").read_text())
    assert set(results["tasks"]) == {"gpqa_diamond", "mmlu_format", "perplexity", "humaneval_short"}
    gpqa = results["tasks"]["gpqa_diamond"]
    assert gpqa["n"] == 4 and len(gpqa["items"]) == 4
    for s in gpqa["scores"].values():
        assert s["low"] <= s["value"] <= s["high"] and s["n"] == 4
    he = results["tasks"]["humaneval_short"]
    assert all(it["n"] == 2 and len(it["samples"]) == 2 for it in he["items"])
    assert set(he["scores"]) == {"pass@1", "pass@2"}
    ppl = results["tasks"]["perplexity"]["scores"]["perplexity"]["value"]
    assert 1 < ppl < 1e6
    html = (eval_run / "report.html").read_text()
    assert "<svg" in html and "gpqa_diamond" in html
    manifest = json.loads((eval_run / "manifest.json").read_text())
    assert manifest["status"] == "succeeded"
    assert "gpqa_diamond/acc" in manifest["metrics"]
    assert {o["role"] for o in manifest["outputs"]} == {"results", "report"}


def test_report_rerenders(eval_run):
    (eval_run / "report.html").unlink()
    out = runner.invoke(app, ["eval", "report", str(eval_run)], catch_exceptions=False)
    assert out.exit_code == 0 and (eval_run / "report.html").is_file()


def test_compare_passes_on_itself_and_fails_on_a_regression(eval_run, tmp_path):
    runs = str(tmp_path / "cmp")
    same = runner.invoke(app, ["eval", "compare", str(eval_run), str(eval_run), "--runs-dir", runs])
    assert same.exit_code == 0, same.output
    # B: the same run with every MMLU-format answer wrong and 3x more items to make it significant
    results = json.loads((eval_run / "results.json").read_text())
    base = results["tasks"]["mmlu_format"]
    for it in base["items"]:
        it["scores"] = {"acc": 1.0, "acc_norm": 1.0}
    base["items"] = [dict(it, id=f"{it['id']}-{r}") for r in range(8) for it in base["items"]]
    a_path, b_path = tmp_path / "a.json", tmp_path / "b.json"
    a_path.write_text(json.dumps(results))
    for it in base["items"]:
        it["scores"] = {"acc": 0.0, "acc_norm": 0.0}
    b_path.write_text(json.dumps(results))
    out = runner.invoke(app, ["eval", "compare", str(a_path), str(b_path), "--runs-dir", runs])
    assert out.exit_code == 1, out.output
    assert "2 regression(s)" in out.output  # acc and acc_norm
    tolerant = runner.invoke(
        app, ["eval", "compare", str(a_path), str(b_path), "--threshold", "1.0", "--runs-dir", runs]
    )
    assert tolerant.exit_code == 0, tolerant.output
    cmp_runs = list(Path(runs).iterdir())
    assert all(
        (d / "comparison.json").is_file() and (d / "report.html").is_file() for d in cmp_runs
    )


def test_unknown_task_is_a_one_line_error():
    with pytest.raises(LMForgeError, match="unknown task 'nope'"):
        runner.invoke(app, ["eval", "run", "--tasks", "nope"], catch_exceptions=False)


def test_tasks_lists_shipped_tasks():
    out = runner.invoke(app, ["eval", "tasks"], catch_exceptions=False)
    assert out.exit_code == 0 and "gpqa_diamond" in out.output and "humaneval" in out.output


def test_scoring_existing_outputs_needs_no_model(tmp_path):
    """BLEU/chrF/ROUGE/F1 of a file of outputs, via the shipped example task."""
    import sacrebleu

    task = Path(__file__).parents[2] / "examples/eval/outputs_rouge.yaml"
    args = [
        "eval",
        "run",
        "--model",
        "/nonexistent",
        "--tasks",
        str(task),
        "--runs-dir",
        str(tmp_path),
        "--n-bootstrap",
        "100",
    ]
    out = runner.invoke(app, args, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    (run_dir,) = tmp_path.iterdir()
    task_res = json.loads((run_dir / "results.json").read_text())["tasks"]["outputs_rouge"]
    rows = [json.loads(x) for x in task.with_name("outputs.jsonl").read_text().splitlines()]
    hyps, refs = [r["prediction"] for r in rows], [r["reference"] for r in rows]
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert task_res["scores"]["bleu"]["value"] == pytest.approx(expected)
    assert {"chrf", "rouge1", "rouge2", "rougeL", "f1", "exact_match"} <= set(task_res["scores"])
