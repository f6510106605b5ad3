"""Chat templates with `{% generation %}` markers, so the loss covers assistant tokens only.

TRL masks non-assistant tokens through the markers. Many templates (SmolLM2's among them) have
none. For the ChatML family we derive an equivalent template: ChatML with markers around each
assistant message *including* its `<|im_end|>` (so the model learns to stop), preceded by the
model's own default system preamble when it has one. "Equivalent" is checked, not assumed: the
derived template must render the probe conversations byte for byte like the original, else we
refuse with a message rather than train on a prompt format the model never saw.
"""

from typing import Any

from lmforge.errors import LMForgeError
from lmforge.models.chat import CHATML_END, CHATML_START, CHATML_TEMPLATE

PROBES: tuple[list[dict[str, str]], ...] = (
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "3+3?"},
        {"role": "assistant", "content": "6"},
    ],
)


def has_generation_markers(template: str | None) -> bool:
    return bool(template) and "generation %}" in template


def _render(tokenizer: Any, template: str, messages: list[dict[str, str]], gen: bool) -> str:
    return tokenizer.apply_chat_template(
        messages, chat_template=template, tokenize=False, add_generation_prompt=gen
    )


def derive_training_template(tokenizer: Any) -> str:
    """A template that renders like the tokenizer's and marks assistant turns for the loss."""
    original = tokenizer.chat_template
    if has_generation_markers(original):
        return original
    if not original or CHATML_START not in original:
        raise LMForgeError(
            "the model's chat template has no {% generation %} markers and is not ChatML, so "
            "assistant-only loss cannot be derived: set assistant_only_loss: false, or give the "
            "tokenizer a template with {% generation %}...{% endgeneration %} around replies"
        )
    user_only = _render(tokenizer, original, [{"role": "user", "content": "x"}], False)
    preamble = user_only[: user_only.index(f"{CHATML_START}user")]
    derived = CHATML_TEMPLATE
    if preamble:
        escaped = preamble.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
        derived = (
            "{% if messages[0]['role'] != 'system' %}{{ '" + escaped + "' }}{% endif %}" + derived
        )
    for probe in PROBES:
        for gen in (False, True):
            msgs = probe[:-1] if gen else probe
            if _render(tokenizer, derived, msgs, gen) != _render(tokenizer, original, msgs, gen):
                raise LMForgeError(
                    "could not derive a {% generation %} template equivalent to the model's "
                    "ChatML variant: set assistant_only_loss: false or supply a marked template"
                )
    return derived


def assistant_mask(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """Token ids of a conversation and its assistant mask (1 = trained), as TRL computes them."""
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    return list(out["input_ids"]), list(out["assistant_masks"])


def end_of_turn_token(tokenizer: Any) -> str:
    """The token that ends an assistant turn: ChatML's `<|im_end|>`, else the tokenizer's EOS."""
    return CHATML_END if CHATML_END in tokenizer.get_vocab() else tokenizer.eos_token
