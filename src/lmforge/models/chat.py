"""Chat templates: the model's own, ChatML as the fallback.

Rendering goes through the tokenizer's `apply_chat_template` (transformers' sandboxed Jinja), so
what we feed the engine is exactly what the model was trained on. Our ChatML fallback carries
`{% generation %}` markers so TRL can train on assistant tokens only.
"""

from typing import Any

from lmforge.errors import LMForgeError

CHATML_START, CHATML_END = "<|im_start|>", "<|im_end|>"
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{ message['content'] + '<|im_end|>' + '\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
ROLES = ("system", "user", "assistant", "tool")


def ensure_chat_template(tokenizer: Any) -> str:
    """Give `tokenizer` a chat template if it has none; return "model" or "chatml-fallback".

    The caller must resize the model's embeddings if this adds the ChatML special tokens.
    """
    if getattr(tokenizer, "chat_template", None):
        return "model"
    tokenizer.chat_template = CHATML_TEMPLATE
    vocab = tokenizer.get_vocab()
    missing = [t for t in (CHATML_START, CHATML_END) if t not in vocab]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    return "chatml-fallback"


def validate_messages(messages: list[dict[str, Any]]) -> None:
    """Raise a one-line error for a malformed conversation (the usual cause of odd output)."""
    if not messages:
        raise LMForgeError("conversation is empty: give at least one user message")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise LMForgeError(f"message {i}: needs 'role' and 'content' keys, got {m!r}")
        if m["role"] not in ROLES:
            raise LMForgeError(f"message {i}: role {m['role']!r} is not one of {ROLES}")
        if not isinstance(m["content"], str):
            kind = type(m["content"]).__name__
            raise LMForgeError(f"message {i}: content must be text, got {kind}")


def render_chat(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    add_generation_prompt: bool = True,
    tools: list[dict[str, Any]] | None = None,
) -> str:
    """The prompt text for `messages` (and OpenAI-shaped `tools`, for templates that render
    them) under the tokenizer's chat template."""
    validate_messages(messages)
    if not getattr(tokenizer, "chat_template", None):
        ensure_chat_template(tokenizer)
    kw = {"tools": tools} if tools else {}
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt, **kw
    )
