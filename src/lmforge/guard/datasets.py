"""Labelled texts from any JSONL or CSV file, and the evaluation / training sets lmforge ships.

`lmforge guard eval --data FILE` scores a user's own corpus: each row needs a text field and a
label field (names configurable); labels are 0/1, booleans, or any strings mapped with
`label_map` ("jailbreak=1,benign=0"). Every problem names the file, the line and the field.

Shipped sets (package data under `guard/data/`, built by `scripts/guard_sets/build.py`):
- `tricky-benign` (eval): benign prompts full of trigger words (role-play, "ignore my typo",
  "forget what I said", installation instructions, innocent encoded data), 6 languages;
- `tool-injection` (eval): tool outputs and documents that address the assistant / agent with
  no override phrase (call a destructive tool, post data to a URL, email it somewhere,
  package notes for "AI agents"), some encoded (base32, binary, Morse, percent, mixtures);
- the `lmforge-synthetic` training corpus: hard negatives and tool-channel positives from a
  separate bank of templates, never the eval sets.
"""

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.guard.corpora import Example

DATA = Path(__file__).parent / "data"
SHIPPED_SETS = {
    "tricky-benign": DATA / "eval" / "tricky_benign.jsonl",
    "tool-injection": DATA / "eval" / "tool_injection.jsonl",
}
# Shipped sets split by template into a dev part (to look at, tune rules or thresholds on) and a
# test part (only ever scored): `tricky-benign:test`.
PARTS = ("dev", "test")
SPLIT_NAME = "tricky-split"
SPLIT_SEED = 0
SYNTHETIC_TRAIN = (DATA / "train" / "hard_negatives.jsonl", DATA / "train" / "tool_injection.jsonl")
TRUE = {"1", "true", "yes"}
FALSE = {"0", "false", "no"}


def parse_label_map(spec: str | None) -> dict[str, int]:
    """'jailbreak=1,benign=0' -> {'jailbreak': 1, 'benign': 0}."""
    out: dict[str, int] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, eq, val = part.rpartition("=")
        if not eq or val.strip() not in ("0", "1") or not name.strip():
            raise LMForgeError(
                f"label map entry {part.strip()!r}: write VALUE=1 (injection) or VALUE=0 (benign)"
            )
        out[name.strip().lower()] = int(val)
    return out


def _label(raw: Any, where: str, field: str, label_map: dict[str, int]) -> int:
    key = str(raw).strip().lower()
    if key in label_map:
        return label_map[key]
    if isinstance(raw, bool) or key in TRUE | FALSE:
        return int(raw) if isinstance(raw, bool) else int(key in TRUE)
    raise LMForgeError(
        f"{where}: label field {field!r} is {raw!r}, not 0/1/true/false; map it with "
        f"--label-map '{key}=1' (injection) or '{key}=0' (benign)"
    )


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    with open(path, encoding="utf-8", newline="") as f:
        if suffix in (".jsonl", ".json", ".ndjson"):
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise LMForgeError(f"{path}:{i}: not valid JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise LMForgeError(f"{path}:{i}: each line must be a JSON object")
                yield i, row
        elif suffix in (".csv", ".tsv"):
            reader = csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",")
            for i, row in enumerate(reader, 2):
                yield i, row
        else:
            raise LMForgeError(f"{path}: unknown format {suffix!r}; use .jsonl or .csv")


def template_parts(rows: list[dict[str, Any]], seed: int = SPLIT_SEED) -> dict[str, str]:
    """Each template of a shipped set -> "dev" or "test", stratified by (category, language).

    The split is by template, not by text: texts from one template share their wording, so a
    rule or threshold tuned on one of them would be tuned on its siblings in the other part.
    Within each (category, language) group the templates, ordered by a seeded hash, alternate
    between the parts (the group's hash picks which part comes first).
    """

    def h(s: str) -> str:
        return hashlib.sha256(f"{SPLIT_NAME}-{seed}:{s}".encode()).hexdigest()

    groups: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        groups.setdefault((r["category"], r["language"]), set()).add(r["template"])
    parts = {}
    for g, templates in groups.items():
        first = int(h("/".join(g))[:2], 16) % 2
        for i, t in enumerate(sorted(templates, key=h)):
            parts[t] = PARTS[(i + first + 1) % 2]
    return parts


def _shipped(source: str) -> tuple[Path, str | None] | None:
    """(file, part or None) for a shipped set name: "tricky-benign" or "tricky-benign:test"."""
    name, _, part = source.partition(":")
    if name not in SHIPPED_SETS:
        return None
    if part and part not in PARTS:
        raise LMForgeError(f"{source}: unknown part {part!r}; use {name}:dev or {name}:test")
    return SHIPPED_SETS[name], part or None


def load_labelled(
    source: str | Path,
    text_field: str = "text",
    label_field: str = "label",
    label_map: dict[str, int] | None = None,
    category_field: str = "category",
) -> list[Example]:
    """Examples from a JSONL/CSV file or a shipped set name (`SHIPPED_SETS`, optionally with
    `:dev` / `:test` for one part of its template split, `template_parts`)."""
    shipped = _shipped(str(source))
    path, part = shipped if shipped else (Path(source), None)
    if not path.is_file():
        names = ", ".join(SHIPPED_SETS)
        raise LMForgeError(f"{source}: no such file (or use a shipped set: {names})")
    corpus = str(source) if shipped else path.stem
    rows = list(_rows(path))
    if part is not None:
        parts = template_parts([r for _, r in rows])
        rows = [(i, r) for i, r in rows if parts[r["template"]] == part]
    out = []
    for i, row in rows:
        where = f"{path}:{i}"
        for field in (text_field, label_field):
            if field not in row:
                have = ", ".join(map(str, row)) or "none"
                flag = "--text-field" if field == text_field else "--label-field"
                raise LMForgeError(
                    f"{where}: no field {field!r} (fields: {have}); name it with {flag}"
                )
        text = row[text_field]
        if not isinstance(text, str) or not text.strip():
            raise LMForgeError(f"{where}: field {text_field!r} must be a non-empty string")
        label = _label(row[label_field], where, label_field, label_map or {})
        category = str(row.get(category_field) or ("injection" if label else "benign"))
        out.append(Example(text, label, category, corpus))
    if not out:
        raise LMForgeError(f"{path}: no rows")
    return out


def synthetic_split(split: str) -> list[Example]:
    """The `lmforge-synthetic` training corpus, split 80/20 train/validation by text hash."""
    if split == "test":
        return []  # held-out figures use the separately written eval sets instead
    out = []
    for path in SYNTHETIC_TRAIN:
        for e in load_labelled(path):
            bucket = int(hashlib.sha256(e.text.encode()).hexdigest()[:8], 16) % 100
            if (bucket < 80) == (split == "train"):
                out.append(Example(e.text, e.label, e.category, "lmforge-synthetic"))
    return out
