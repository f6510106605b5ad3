from pathlib import Path

import pytest

from lmforge.data.document import Document
from lmforge.data.formatting import DPO, Chat, check_order


def test_chat_from_instruction_chatml() -> None:
    d = Document("1", "Paris.", {"instruction": "Capital of France?", "system": "Be brief."})
    assert Chat(response_field="text")(d) == (True, "")
    assert d.metadata["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ]
    assert d.text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nCapital of France?<|im_end|>\n"
        "<|im_start|>assistant\nParis.<|im_end|>\n"
    )


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        ({}, "chat_missing_fields"),
        ({"messages": [{"role": "narrator", "content": "x"}]}, "chat_invalid_message"),
        (
            {"messages": [{"role": "user", "content": " "}, {"role": "assistant", "content": "a"}]},
            "chat_empty_content",
        ),
        ({"messages": [{"role": "assistant", "content": "a"}]}, "chat_bad_order"),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q"}]},
            "chat_bad_order",
        ),
    ],
)
def test_chat_reasons(meta: dict, reason: str) -> None:
    assert Chat()(Document("1", "t", meta)) == (False, reason)


def test_check_order_messages() -> None:
    ok = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert check_order(ok) is None
    assert check_order(
        [{"role": "system", "content": "s"}, *ok, {"role": "system", "content": "s"}]
    )
    assert check_order(ok[:1]) == "last turn is not 'assistant'"


def test_chat_model_template(tiny_llama_dir: Path) -> None:
    step = Chat(template=str(tiny_llama_dir))
    step.setup()
    d = Document("1", "t", {"instruction": "Hi?", "response": "Hello."})
    assert step(d) == (True, "")
    assert "Hi?" in d.text and "Hello." in d.text


def test_dpo_records() -> None:
    d = Document("1", "q?", {"good": "yes", "bad": "no"})
    assert DPO(prompt_field="text", chosen_field="good", rejected_field="bad")(d) == (True, "")
    assert d.to_record() == {
        "id": "1",
        "text": "q?",
        "prompt": "q?",
        "chosen": "yes",
        "rejected": "no",
    }
    assert DPO()(Document("2", "x", {"prompt": "p", "chosen": "a"})) == (
        False,
        "dpo_missing_fields",
    )
    same = Document("3", "x", {"prompt": "p", "chosen": "a", "rejected": "a "})
    assert DPO()(same) == (False, "dpo_identical_responses")
