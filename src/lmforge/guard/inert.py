"""Inert data: a short text made only of numbers cannot carry an instruction.

The classifier scores surface text, and on short text it is noisy: a bare `5616957`, `True`,
`None` or `1e-05` (what a python tool prints) scores 0.56-0.90, over the threshold, so an agent
loses the very result it asked for. An injection, though, is an order in words, and words need
letters. So a text is inert when it is short (`MAX_CHARS`) and, once whole number tokens
(`-42`, `3.5e-05`, `0x1f`, `3+4j`) and value literals (`True`, `null`, `nan`) are taken out,
no letter or digit is left, only punctuation and space. Leetspeak (`PR0MPT`) and spaced letters
(`i g n o r e`) keep their letters, so they are not inert. Orders written in digits are looked
for too: the text is read again as the model might decode it (HTML entities `&#73;`, escapes
`\\111`, Unicode folding), and a text from which `decode_payloads` decodes anything (binary,
Morse, percent-encoding) is never inert.

Callers clear a classifier hit on inert text only when no attack rule matched it either
(`Guard` for prompts and retrieved or tool context, `guard eval` the same way).
"""

import codecs
import contextlib
import html
import re

from lmforge.guard.decode import decode_payloads
from lmforge.guard.unicode import inspect

MAX_CHARS = 400
# whole tokens that are values, not words: numbers in Python / JSON notation, value literals
VALUE = re.compile(
    r"(?<![\w.])[-+]?(?:0x[0-9a-f]+|(?:\d+(?:[_,]\d{3})*(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?"
    r"(?:[-+]\d+(?:\.\d*)?j|j)?)(?![\w])"
    r"|\b(?:true|false|none|null|nil|nan|inf|infinity)\b",
    re.IGNORECASE,
)
ALNUM = re.compile(r"[^\W_]")


def _readings(text: str) -> list[str]:
    """`text` and what a model could read into it: entities and escapes decoded, folded."""
    out = [text, html.unescape(text), inspect(text).clean]
    with contextlib.suppress(UnicodeDecodeError, ValueError):
        out.append(codecs.decode(text, "unicode_escape"))
    return out


def inert(text: str) -> str | None:
    """Why `text` cannot carry an instruction ("only numbers: 7 characters"), or None."""
    if len(text) > MAX_CHARS or not text.strip():
        return None
    if any(ALNUM.search(VALUE.sub(" ", t)) for t in _readings(text)) or decode_payloads(text):
        return None
    return f"only numbers: {len(text.strip())} characters"
