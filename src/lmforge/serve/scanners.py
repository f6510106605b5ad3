"""The guard hook: input scanners run before admission, output scanners on the answer.

Any object with `scan_input(text, key=...)` and `scan_output(text)` returning something with
`.blocked`, `.text` (the text to use from here on, e.g. redacted) and `.reason` plugs in;
`lmforge.guard.guard.Guard` is one (`--guard-policy FILE`). Input: every user/tool message (or
completion prompt) is scanned; a block is a 400 (429 when the scanner says so) and the request
never reaches the engine. Output: the whole answer for non-streaming requests; for streams, the
text so far before each delta is sent, so blocked text never leaves the server (the stream ends
with finish_reason "content_filter").
"""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lmforge.serve.errors import APIError


class ScanResult(Protocol):
    blocked: bool
    text: str
    reason: str


class Scanner(Protocol):
    def scan_input(self, text: str, key: str | None = None) -> ScanResult: ...
    def scan_output(self, text: str) -> ScanResult: ...


@dataclass(slots=True)
class Scanners:
    """An ordered chain of scanners; each sees the text the previous one passed on."""

    chain: list[Scanner] = field(default_factory=list)

    async def check_input(self, text: str, key: str | None) -> str:
        for s in self.chain:
            d = await asyncio.to_thread(s.scan_input, text, key=key)
            if d.blocked:
                status = int(getattr(d, "http_status", 400))
                raise APIError(
                    status,
                    f"request blocked by input scanner: {d.reason}",
                    param="messages",
                    code="content_policy_violation",
                )
            text = d.text
        return text

    async def check_output(self, text: str) -> tuple[bool, str]:
        """(allowed, text to send)."""
        for s in self.chain:
            d = await asyncio.to_thread(s.scan_output, text)
            if d.blocked:
                return False, ""
            text = d.text
        return True, text


def load_guard(policy: Path, tokenizer: Any) -> Scanner:
    """lmforge's Guard from a policy YAML (the [guard] extra), token limits in our tokenizer."""
    from lmforge.guard.guard import Guard

    return Guard.from_policy(policy, tokenizer=tokenizer)
