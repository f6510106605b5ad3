"""Incremental detokenisation that never emits half a UTF-8 character, and stop-string handling.

Decoding one token at a time is wrong for byte-level BPE: a multi-byte character can span tokens,
and decoding a lone piece yields U+FFFD. As vLLM and transformers' TextStreamer do, we decode a
short window of tokens (from `prefix` to the end) and emit only the text past what the window
already produced, holding back while the tail is an incomplete character. With stop strings, the
last len(stop)-1 characters are held back too, so a stream never shows text that a stop string
later cuts off.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Detokenizer:
    tokenizer: Any
    prompt_ids: list[int]
    skip_special_tokens: bool = True
    stops: list[str] = field(default_factory=list)
    include_stop: bool = False
    text: str = ""  # all finalised text
    emitted: int = 0  # chars of `text` already streamed
    _ids: list[int] = field(default_factory=list)
    _prefix: int = 0
    _read: int = 0

    def __post_init__(self) -> None:
        # Seed the window with the prompt's tail so the first token decodes in context
        # (leading-space handling of sentencepiece-style tokenizers).
        self._ids = list(self.prompt_ids[-6:])
        self._prefix = max(0, len(self._ids) - 5)
        self._read = len(self._ids)

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens)

    def add(self, token: int) -> str | None:
        """Append a token; return the stop string it completed, if any."""
        self._ids.append(token)
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            start = len(self.text)
            self.text += after[len(before) :]
            self._prefix, self._read = self._read, len(self._ids)
            return self._check_stop(start)
        return None

    def _check_stop(self, new_from: int) -> str | None:
        for stop in self.stops:
            at = self.text.find(stop, max(0, new_from - len(stop) + 1))
            if at != -1:
                self.text = self.text[: at + (len(stop) if self.include_stop else 0)]
                return stop
        return None

    def delta(self, final: bool) -> str:
        """Text not yet streamed; holds back a possible stop-string prefix unless `final`."""
        hold = 0 if final or not self.stops else max(len(s) for s in self.stops) - 1
        end = max(self.emitted, len(self.text) - hold)
        out = self.text[self.emitted : end]
        self.emitted = end
        return out
