"""Long-context eval: NIAH prompts and scoring, heat map, perplexity by position (tiny model)."""

import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from lmforge.engine import LLM
from lmforge.eval.longctx import (
    ANSWER_TOKENS,
    NEEDLE,
    TASK,
    heatmap,
    needle_prompt,
    perplexity_by_position,
    run_needles,
)

RECORDS = [f"Record {i}: a farmer sells {i} eggs at the market every morning." for i in range(40)]


class Copier:
    """A stand-in model that answers with the first 7-digit number in its prompt (or never)."""

    def __init__(self, tokenizer, finds: bool) -> None:
        self.tokenizer, self.finds, self.prompts = tokenizer, finds, []

    def generate(self, prompts, params):
        self.prompts.append(prompts[0])
        m = re.search(r"\d{7}", self.tokenizer.decode(prompts[0]))
        return [SimpleNamespace(text=f" {m.group(0)}." if self.finds and m else " 42.")]


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_needle_prompt_length_and_depth(tiny_tokenizer, depth: float) -> None:
    ids = needle_prompt(tiny_tokenizer, RECORDS, 300, depth, "amber-falcon", "1234567")
    assert len(ids) == 300
    text = tiny_tokenizer.decode(ids)
    needle = NEEDLE.format(key="amber-falcon", value="1234567")
    assert text.startswith(TASK)  # the needle is never on the sink position 0
    hay = len(text.split("What is the special magic")[0]) - len(needle) - len(TASK)
    at = (text.index(needle) - len(TASK)) / hay
    assert abs(at - depth) < 0.15
    assert text.rstrip().endswith("mentioned in the provided text is:")


@pytest.mark.parametrize("finds", [True, False])
def test_run_needles_grid_and_scoring(tiny_tokenizer, finds: bool) -> None:
    llm = Copier(tiny_tokenizer, finds)
    res = run_needles(llm, [200, 400], [0.0, 0.5, 1.0], needles=2, records=RECORDS)
    assert len(res) == 12 and {(r.length, r.depth) for r in res} == {
        (n, d) for n in (200, 400) for d in (0.0, 0.5, 1.0)
    }
    assert all(r.passed is finds for r in res)
    assert len({r.value for r in res}) == 12  # a fresh number per needle
    assert sorted({len(p) for p in llm.prompts}) == [200 - ANSWER_TOKENS, 400 - ANSWER_TOKENS]


def test_heatmap_png(tiny_tokenizer, tmp_path: Path) -> None:
    res = run_needles(Copier(tiny_tokenizer, True), [200], [0.0, 1.0], records=RECORDS)
    res[0].passed = False
    out = heatmap(res, tmp_path / "niah.png", "test", trained=256)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_perplexity_by_position_bins_the_scores(tiny_llama_dir: Path) -> None:
    llm = LLM(str(tiny_llama_dir), kv_cache_gb=0.01, threads=1, max_num_batched_tokens=32)
    ids = llm.tokenizer.encode(" ".join(RECORDS))[:101]
    bins = perplexity_by_position(llm, ids, 25)
    lps = llm.score([(ids[:1], [ids[1:]])])[0][0].logprobs
    assert [b for b, _ in bins] == [1, 26, 51, 76]
    assert bins[1][1] == pytest.approx(math.exp(-sum(lps[25:50]) / 25))
