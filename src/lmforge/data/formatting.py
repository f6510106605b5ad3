"""Formatting for training: chat messages (SFT) and prompt/chosen/rejected (DPO) records.

Malformed records are dropped with a precise reason rather than fixed up: a conversation with
roles out of order trains the model on the wrong turn boundaries.
"""

import itertools
from typing import Any

from lmforge.data.document import Document
from lmforge.data.steps import KEEP, Step
from lmforge.errors import LMForgeError

# The chat helpers are imported inside functions: importing lmforge.models pulls in
# transformers, which would add seconds to every worker that never formats chat.


def check_order(messages: list[dict[str, Any]]) -> str | None:
    """Why the role order is wrong, or None: an optional system first, then user and assistant
    alternating from a user turn (tool results only after an assistant), ending on assistant."""
    turns = messages[1:] if messages and messages[0]["role"] == "system" else messages
    if not turns:
        return "no user turn"
    if turns[0]["role"] != "user":
        return f"first turn is {turns[0]['role']!r}, not 'user'"
    for prev, cur in itertools.pairwise(turns):
        pair = (prev["role"], cur["role"])
        if cur["role"] == "system":
            return "system message after the first position"
        if pair in (("user", "user"), ("assistant", "assistant")) or (
            cur["role"] == "tool" and prev["role"] not in ("assistant", "tool")
        ):
            return f"{pair[1]!r} follows {pair[0]!r}"
    if turns[-1]["role"] != "assistant":
        return "last turn is not 'assistant'"
    return None


def chatml(messages: list[dict[str, Any]]) -> str:
    """ChatML text, the same layout as lmforge.models.chat's fallback template."""
    from lmforge.models.chat import CHATML_END, CHATML_START

    return "".join(f"{CHATML_START}{m['role']}\n{m['content']}{CHATML_END}\n" for m in messages)


class Chat(Step):
    """Instruction/response (or existing `messages`) -> validated chat messages + rendered text.

    `template: chatml` renders ChatML; any other value is a model (`default`, an HF dir) whose
    own chat template renders the text, via lmforge.models.chat.render_chat.
    """

    name = "chat"

    def __init__(
        self,
        messages_field: str = "messages",
        instruction_field: str = "instruction",
        input_field: str | None = "input",
        response_field: str = "response",
        system_field: str | None = "system",
        template: str = "chatml",
        text_field: str = "text",
    ) -> None:
        self.messages_field, self.instruction_field = messages_field, instruction_field
        self.input_field, self.response_field = input_field, response_field
        self.system_field, self.template, self.text_field = system_field, template, text_field
        self._tokenizer: Any = None

    def setup(self) -> None:
        if self.template != "chatml" and self._tokenizer is None:
            from transformers import AutoTokenizer

            from lmforge.models import resolve_model_dir

            self._tokenizer = AutoTokenizer.from_pretrained(resolve_model_dir(self.template))

    def _field(self, doc: Document, name: str | None) -> Any:
        if name is None:
            return None
        return doc.text if name == self.text_field else doc.metadata.get(name)

    def messages(self, doc: Document) -> list[dict[str, Any]] | None:
        msgs = doc.metadata.get(self.messages_field)
        if msgs is not None:
            return msgs
        instruction = self._field(doc, self.instruction_field)
        response = self._field(doc, self.response_field)
        if not isinstance(instruction, str) or not isinstance(response, str):
            return None
        extra = self._field(doc, self.input_field)
        user = (
            f"{instruction}\n\n{extra}" if isinstance(extra, str) and extra.strip() else instruction
        )
        out = [{"role": "user", "content": user}, {"role": "assistant", "content": response}]
        system = self._field(doc, self.system_field)
        if isinstance(system, str) and system.strip():
            out.insert(0, {"role": "system", "content": system})
        return out

    def __call__(self, doc: Document) -> tuple[bool, str]:
        from lmforge.models.chat import render_chat, validate_messages

        msgs = self.messages(doc)
        if msgs is None:
            return False, "chat_missing_fields"
        if not isinstance(msgs, list):
            return False, "chat_invalid_message"
        try:
            validate_messages(msgs)
        except LMForgeError:
            return False, "chat_invalid_message"
        if any(not m["content"].strip() for m in msgs):
            return False, "chat_empty_content"
        if check_order(msgs) is not None:
            return False, "chat_bad_order"
        msgs = [{"role": m["role"], "content": m["content"]} for m in msgs]
        if self.template == "chatml":
            doc.text = chatml(msgs)
        else:
            self.setup()
            doc.text = render_chat(self._tokenizer, msgs, add_generation_prompt=False)
        doc.metadata[self.messages_field] = msgs
        return KEEP


class DPO(Step):
    """Preference records -> `prompt`, `chosen`, `rejected` strings (TRL's DPO format)."""

    name = "dpo"

    def __init__(
        self,
        prompt_field: str = "prompt",
        chosen_field: str = "chosen",
        rejected_field: str = "rejected",
    ) -> None:
        self.fields = (prompt_field, chosen_field, rejected_field)

    def __call__(self, doc: Document) -> tuple[bool, str]:
        src = {**doc.metadata, "text": doc.text}
        values = [src.get(f) for f in self.fields]
        if not all(isinstance(v, str) and v.strip() for v in values):
            return False, "dpo_missing_fields"
        prompt, chosen, rejected = values
        if chosen.strip() == rejected.strip():
            return False, "dpo_identical_responses"
        for f in self.fields:
            doc.metadata.pop(f, None)
        doc.metadata.update(prompt=prompt, chosen=chosen, rejected=rejected)
        return KEEP
