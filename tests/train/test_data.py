"""Data loading and the checks that run before training."""

from pathlib import Path

import pytest

from lmforge.errors import LMForgeError
from lmforge.train.config import DataSection
from lmforge.train.data import check_conversation, detect_form, load_rows, prepare
from lmforge.train.gsm8k import write_jsonl


def test_forms_are_detected_from_columns() -> None:
    assert detect_form(["messages"], "x") == "chat"
    assert detect_form(["prompt", "completion"], "x") == "prompt_completion"
    assert detect_form(["prompt", "chosen", "rejected", "id"], "x") == "preference"
    assert detect_form(["text"], "x") == "text"
    assert detect_form(["prompt", "answer"], "x") == "prompt_only"
    with pytest.raises(LMForgeError, match="match no known form"):
        detect_form(["question"], "data.jsonl")


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([], "non-empty"),
        ([{"role": "user", "content": " "}, {"role": "assistant", "content": "a"}], "empty"),
        ([{"role": "assistant", "content": "a"}], "expected 'user'"),
        ([{"role": "user", "content": "q"}, {"role": "user", "content": "q"}], "expected"),
        ([{"role": "user", "content": "q"}], "not from the assistant"),
        ([{"role": "user", "content": 3}], "string 'content'"),
    ],
)
def test_bad_conversations_are_named(messages: list, problem: str) -> None:
    assert problem in (check_conversation(messages, need_assistant_last=True) or "")


def test_good_conversation_with_system_passes() -> None:
    msgs = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    assert check_conversation(msgs, need_assistant_last=True) is None


def _rows() -> list[dict]:
    ok = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    long = {
        "messages": [
            {"role": "user", "content": "word " * 200},
            {"role": "assistant", "content": "ok"},
        ]
    }
    empty = {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "x"}]}
    return [ok, ok, long, empty]


def test_bad_rows_error_with_row_number_or_are_dropped_and_counted(
    tmp_path: Path, tiny_tokenizer
) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", _rows())
    section = DataSection(path=str(path), max_length=64)
    with pytest.raises(LMForgeError, match=r"row 3: message 0 \(user\) is empty.*on_bad: drop"):
        prepare(section, str(path), tiny_tokenizer, ("chat",))
    section = DataSection(path=str(path), max_length=64, on_bad="drop", overlong="drop")
    ds, report = prepare(section, str(path), tiny_tokenizer, ("chat",))
    assert len(ds) == 2 and report.rows_in == 4 and report.rows_out == 2
    assert report.bad == {"message 0": 1} and report.overlong == report.overlong_dropped == 1
    assert sum(report.length_hist.values()) == 3 and report.length_max > 64


def test_overlong_rows_are_kept_for_truncation_by_default(tmp_path: Path, tiny_tokenizer) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", _rows()[:3])
    ds, report = prepare(
        DataSection(path=str(path), max_length=64), str(path), tiny_tokenizer, ("chat",)
    )
    assert len(ds) == 3 and report.overlong == 1 and report.overlong_dropped == 0


def test_wrong_form_for_the_command_is_refused(chat_jsonl: Path, tiny_tokenizer) -> None:
    with pytest.raises(LMForgeError, match="needs preference data, got chat"):
        prepare(DataSection(path=str(chat_jsonl)), str(chat_jsonl), tiny_tokenizer, ("preference",))


def test_parquet_and_saved_datasets_load(tmp_path: Path, chat_jsonl: Path) -> None:
    ds = load_rows(str(chat_jsonl))
    ds.to_parquet(str(tmp_path / "d.parquet"))
    ds.save_to_disk(str(tmp_path / "saved"))
    assert len(load_rows(str(tmp_path / "d.parquet"))) == len(ds)
    assert load_rows(str(tmp_path / "saved"))[0] == ds[0]
    with pytest.raises(LMForgeError, match="not found"):
        load_rows(str(tmp_path / "missing.jsonl"))
    with pytest.raises(LMForgeError, match="no split 'dev'"):
        load_rows(str(tmp_path / "d.parquet"), split="dev")
