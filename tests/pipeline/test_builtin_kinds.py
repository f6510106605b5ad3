"""lmforge's own stages chained by `lmforge run` on a tiny model: split -> curate -> LoRA SFT ->
merge -> evaluate base and tuned -> quickstart's closing chat turn, with lineage throughout."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.runs import load_manifest


@pytest.fixture(scope="module")
def tiny_pipeline(tiny_llama_dir, tmp_path_factory) -> Path:
    spec = yaml.safe_load(
        (Path(__file__).parents[2] / "examples" / "pipeline" / "gsm8k-lora.yaml").read_text()
    )
    stages = {s["name"]: s for s in spec["stages"]}
    stages["split"]["config"] = {"seed": 0, "train_limit": 24, "heldout_limit": 3}
    stages["sft"]["config"].update(model=str(tiny_llama_dir), max_steps=2, save_steps=2)
    dpo_cfg = {"max_steps": 1, "save_steps": 1, "batch_size": 2, "data": {"max_length": 128}}
    bench_cfg = {"concurrency": [1, 2], "requests": 2, "max_tokens": 4}
    spec["stages"] += [
        {"name": "dpo", "uses": "train.dpo", "config": dpo_cfg,
         "inputs": {"dataset": "split.preferences", "model": "merge.model"}},
        {"name": "index", "uses": "rag.index", "config": {"jsonl_field": "answer"},
         "inputs": {"documents": "split.heldout"}},
        {"name": "serve_bench", "uses": "bench.serve", "config": bench_cfg,
         "inputs": {"model": "merge.model"}},
    ]  # fmt: skip
    for label, model in (
        ("base", {"config": {"model": str(tiny_llama_dir)}}),
        ("tuned", {"inputs": {"model": "merge.model"}}),
    ):
        stage = {
            "name": f"eval_{label}",
            "uses": "eval",
            "config": {"backend": "hf", "tasks": ["gsm8k_chat"], "n_bootstrap": 50},
        }
        stage["inputs"] = {"data": "split.heldout", **model.get("inputs", {})}
        stage["config"].update(model.get("config", {}))
        spec["stages"].append(stage)
    path = tmp_path_factory.mktemp("pipe") / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_quickstart_runs_pipeline_then_chats(tiny_pipeline, isolated_runs):
    out = CliRunner().invoke(
        app,
        ["quickstart", "--pipeline", str(tiny_pipeline), "--max-new-tokens", "5"],
        env={"COLUMNS": "250"},
    )
    assert out.exit_code == 0, out.output
    assert "tuned model:" in out.output and "report:" in out.output
    manifests = {m["stage"]: m for m in map(load_manifest, sorted(isolated_runs.iterdir()))}
    assert {
        "gsm8k-split",
        "data",
        "train-sft",
        "train-merge",
        "train-dpo",
        "rag-index",
        "bench-serve",
        "eval",
        "pipeline",
        "quickstart",
    } <= set(manifests)
    assert all(m["status"] == "succeeded" for m in manifests.values())

    # Lineage: each stage's input hash leads back to the run that wrote it.
    sft, data = manifests["train-sft"], manifests["data"]
    dataset = next(i for i in sft["inputs"] if i["role"] == "dataset")
    assert dataset["produced_by"] == data["id"]
    merge = manifests["train-merge"]
    assert next(i for i in merge["inputs"] if i["role"] == "adapter")["produced_by"] == sft["id"]
    chat = manifests["quickstart"]
    assert chat["inputs"][1]["produced_by"] == merge["id"]  # the chat turn used the merged model
    assert chat["metrics"]["new_tokens"] >= 1

    # The data stage's funnel and the training curve reached the pipeline's report.
    report = (Path(manifests["pipeline"]["outputs"][-1]["path"])).read_text()
    assert "Data funnel" in report and "exact_dedup" in report
    assert "Evaluation: base vs tuned" in report and "gsm8k_chat/" in report

    # A second run reuses every stage.
    again = CliRunner().invoke(app, ["run", str(tiny_pipeline)], env={"COLUMNS": "250"})
    assert again.exit_code == 0, again.output
    assert again.output.count(" reused in ") == 9

    dpo = manifests["train-dpo"]
    assert next(i for i in dpo["inputs"] if i["role"] == "model")["produced_by"] == merge["id"]
    assert manifests["rag-index"]["metrics"]["chunks"] >= 3
    levels = manifests["bench-serve"]["metrics"]["levels"]
    assert [lv["concurrency"] for lv in levels] == [1, 2]
    assert all(lv["errors"] == 0 for lv in levels)
    assert "latency vs throughput" in report
