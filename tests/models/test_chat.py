import pytest

from lmforge.errors import LMForgeError
from lmforge.models import CHATML_TEMPLATE, ensure_chat_template, load_model, render_chat
from lmforge.models.tiny import train_tokenizer

CONVO = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Name a prime."},
    {"role": "assistant", "content": "Seven."},
    {"role": "user", "content": "Another?"},
]
CHATML_EXPECTED = (
    "<|im_start|>system\nBe brief.<|im_end|>\n"
    "<|im_start|>user\nName a prime.<|im_end|>\n"
    "<|im_start|>assistant\nSeven.<|im_end|>\n"
    "<|im_start|>user\nAnother?<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def test_chatml_rendering_is_exact(tiny_tokenizer):
    assert render_chat(tiny_tokenizer, CONVO) == CHATML_EXPECTED
    no_prompt = render_chat(tiny_tokenizer, CONVO, add_generation_prompt=False)
    assert no_prompt == CHATML_EXPECTED.removesuffix("<|im_start|>assistant\n")


def test_fallback_when_tokenizer_has_no_template():
    tok = train_tokenizer(["some plain text to learn from"] * 4, vocab_size=300)
    tok.chat_template = None
    assert ensure_chat_template(tok) == "chatml-fallback"
    assert tok.chat_template == CHATML_TEMPLATE
    assert render_chat(tok, CONVO) == CHATML_EXPECTED
    assert ensure_chat_template(tok) == "model"  # now it has one


def test_generation_markers_mask_assistant_tokens(tiny_tokenizer):
    out = tiny_tokenizer.apply_chat_template(
        CONVO[:3], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    masked = tiny_tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])
    assert masked == "Seven.<|im_end|>"


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([], "conversation is empty"),
        ([{"role": "user"}], "message 0: needs 'role' and 'content'"),
        ([{"role": "robot", "content": "x"}], "message 0: role 'robot' is not one of"),
        ([{"role": "user", "content": 3}], "message 0: content must be text, got int"),
    ],
)
def test_bad_conversations(tiny_tokenizer, messages, error):
    with pytest.raises(LMForgeError, match=error):
        render_chat(tiny_tokenizer, messages)


SMOL_EXPECTED = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n<|im_start|>user\nName a prime.<|im_end|>\n<|im_start|>assistant\n"
)


@pytest.mark.integration
def test_default_model_uses_its_own_template(default_model_dir):
    """The converted model renders exactly as the GGUF's own tokenizer does."""
    from transformers import AutoTokenizer

    from lmforge.models.default import default_gguf_path

    lm_tok = load_model(default_model_dir).tokenizer
    gguf = default_gguf_path()
    original = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    convo = [{"role": "user", "content": "Name a prime."}]
    ours = render_chat(lm_tok, convo)
    assert ours == original.apply_chat_template(convo, tokenize=False, add_generation_prompt=True)
    assert ours == SMOL_EXPECTED
    full = render_chat(lm_tok, CONVO)
    assert full == original.apply_chat_template(CONVO, tokenize=False, add_generation_prompt=True)
    assert lm_tok(full).input_ids == original(full).input_ids
