"""Assistant-only loss: the derived template marks exactly the assistant tokens and their EOS."""

import copy

import pytest
from transformers import AutoTokenizer

from lmforge.errors import LMForgeError
from lmforge.train.template import (
    PROBES,
    assistant_mask,
    derive_training_template,
    has_generation_markers,
)


def _trained_text(tok, messages) -> str:
    ids, mask = assistant_mask(tok, messages)
    assert len(ids) == len(mask)
    return tok.decode([i for i, m in zip(ids, mask, strict=True) if m])


@pytest.mark.integration
def test_default_model_template_is_derived_with_markers_and_same_rendering(
    default_model_dir,
) -> None:
    tok = AutoTokenizer.from_pretrained(default_model_dir)
    original = tok.chat_template
    assert not has_generation_markers(original)  # SmolLM2 ships none: this is why we derive
    derived = derive_training_template(tok)
    for msgs in PROBES:
        assert tok.apply_chat_template(msgs, chat_template=derived, tokenize=False) == (
            tok.apply_chat_template(msgs, tokenize=False)
        )
    tok.chat_template = derived
    # exactly the assistant contents, each followed by the end-of-turn token (= EOS)
    assert tok.eos_token == "<|im_end|>"
    assert _trained_text(tok, PROBES[1]) == "4<|im_end|>6<|im_end|>"
    ids, mask = assistant_mask(tok, PROBES[1])
    eos_positions = [i for i, t in enumerate(ids) if t == tok.eos_token_id]
    assert [mask[i] for i in eos_positions] == [0, 0, 1, 0, 1]  # system, user, asst, user, asst


def test_tiny_chatml_template_is_kept_and_masks_assistant(tiny_tokenizer) -> None:
    assert derive_training_template(tiny_tokenizer) == tiny_tokenizer.chat_template
    assert _trained_text(tiny_tokenizer, PROBES[0]) == "Hello!<|im_end|>"


def test_non_chatml_template_without_markers_is_refused(tiny_tokenizer) -> None:
    other = copy.deepcopy(tiny_tokenizer)  # never mutate the session tokenizer
    other.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    with pytest.raises(LMForgeError, match="assistant_only_loss: false"):
        derive_training_template(other)
