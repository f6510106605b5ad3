"""NIAH probes: single cells under prompt, haystack and RoPE variants, to decide a change to the
grid's rule on needle values that are not the grid's own (bench/longctx.py draws those from
seed 0; pass others here).

    OMP_NUM_THREADS=1 nice -n 19 python bench/niah_probe.py --variants base,qa,chat \
        --cells 7168@0,8192@0 --values 4185203,2918364 [--rope yarn] [--haystack noise]

Variants (the haystack, needle and depth rule are eval/longctx.py's in all of them):
- base: the grid's prompt (RULER's task line, haystack with the needle, question, answer prefix).
- qa: query-aware, the question also stated right after the task line, before the haystack
  (Liu et al., "Lost in the Middle", query-aware contextualization).
- chat: the SmolLM2-Instruct chat template around task + haystack + question, the assistant turn
  opened with the answer prefix, as RULER runs chat models.
Haystack `noise` is RULER's niah_single_1 filler (one repeated number-free sentence) in place of
the GSM8K questions, so distance can be told apart from number distractors.
One JSON line per probe; the cell length counts the 12-token answer budget, as in the grid.
"""

import argparse
import json
import time
from typing import Any

from lmforge.engine import LLM, SamplingParams
from lmforge.eval import longctx as L

NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
QUERY_FIRST = "What is the special magic number for {key} mentioned in the provided text?\n"


def chat_prompt(
    tok: Any, recs: list[str], n: int, depth: float, key: str, value: str, query_first: bool
) -> list[int]:
    """The grid's text in a chat turn, the answer prefix opening the reply; the haystack is
    resized until the whole prompt is `n` tokens (the template's tokens count too)."""
    question = L.QUESTION.format(key=key)
    prefix = question[question.index("? ") + 2 :]  # "The special magic number ... is:"

    def build(room: int) -> list[int]:
        text = tok.decode(L.needle_prompt(tok, recs, room, depth, key, value))
        user = text[: -len(prefix)].rstrip()
        if query_first:
            user = user.replace(L.TASK, L.TASK + QUERY_FIRST.format(key=key), 1)
        turn = tok.apply_chat_template(
            [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
        )
        return tok.encode(turn + prefix, add_special_tokens=False)

    room = n
    for _ in range(5):  # decode/re-encode can shift a token or two: converge on n
        ids = build(room)
        if len(ids) == n:
            return ids
        room += n - len(ids)
    raise ValueError(f"could not size a chat prompt to {n} tokens (got {len(ids)})")


def probe_prompt(
    tok: Any, recs: list[str], variant: str, n: int, depth: float, key: str, value: str
) -> list[int]:
    """Token ids of one probe of exactly `n` tokens."""
    if variant == "base":
        return L.needle_prompt(tok, recs, n, depth, key, value)
    if variant == "qa":
        q = tok.encode(QUERY_FIRST.format(key=key), add_special_tokens=False)
        body = L.needle_prompt(tok, recs, n - len(q), depth, key, value)
        t = len(tok.encode(L.TASK, add_special_tokens=False))
        return body[:t] + q + body[t:]
    if variant in ("chat", "chatqa"):
        return chat_prompt(tok, recs, n, depth, key, value, variant == "chatqa")
    raise ValueError(f"unknown variant {variant!r} (base, qa, chat, chatqa)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="base")
    ap.add_argument("--cells", required=True, help="LENGTH@DEPTH,... e.g. 7168@0,2048@0.5")
    ap.add_argument("--values", required=True, help="7-digit needle values, comma-separated")
    ap.add_argument("--rope", default="", help="yarn|dynamic|linear: x --factor scaling")
    ap.add_argument("--factor", type=float, default=2.0)
    ap.add_argument("--kv", default="auto", help="kv_cache_dtype: auto (fp32 on CPU), int8, fp8")
    ap.add_argument("--haystack", default="gsm8k", choices=("gsm8k", "noise"))
    ap.add_argument("--key", default="", help="needle key; the grid's is quiet-harbor")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    cells = [(int(c.split("@")[0]), float(c.split("@")[1])) for c in args.cells.split(",")]
    values = args.values.split(",")
    if any(not (v.isdigit() and len(v) == 7) for v in values):
        raise SystemExit(f"--values: 7-digit numbers expected, got {args.values!r}")
    rope = {"rope_type": args.rope, "factor": args.factor} if args.rope else None
    llm = LLM(
        "default",
        threads=args.threads,
        kv_cache_gb=1.0,
        kv_cache_dtype=args.kv,
        max_num_batched_tokens=1024,
        max_model_len=max(n for n, _ in cells),
        rope_scaling=rope,
    )
    tok = llm.tokenizer
    recs = [NOISE] if args.haystack == "noise" else L.haystack_records()
    params = SamplingParams(max_tokens=L.ANSWER_TOKENS, temperature=0)
    for n, depth in cells:
        for value in values:
            key = args.key or L.KEYS[int(value[0]) % 2]  # amber-falcon: odd first digit
            for variant in args.variants.split(","):
                t0 = time.perf_counter()
                ids = probe_prompt(tok, recs, variant, n - L.ANSWER_TOKENS, depth, key, value)
                answer = llm.generate([ids], params)[0].text
                row = {"variant": variant, "cell": f"{n}@{depth:g}", "value": value,
                       "rope": args.rope or "default", "kv": args.kv, "haystack": args.haystack,
                       "passed": value in answer, "answer": answer[:24],
                       "seconds": round(time.perf_counter() - t0)}  # fmt: skip
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
