"""Decode payloads hidden in base64, base32, hex, binary, Morse, percent-encoding or rot13.

A classifier trained on plain text does not read `aWdub3JlIGFsbCBwcmV2aW91cw==`; the model
being attacked often does. We extract candidate encoded spans, decode them, keep the results
that read as text, and hand them back for a second scan (recursively, to a small depth, since
base64-of-base64 or percent-encoded base32 are known tricks). The text with every span replaced
by its decoding comes first ("inline"), so an instruction split across encodings, or a wrapper
that addresses the agent around an encoded order, is read whole. rot13 has no alphabet of its
own, so the whole text's rot13 is always a candidate: it is matched only against the rules,
never trusted on its own.
"""

import base64
import binascii
import codecs
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

B64 = re.compile(
    r"(?:[A-Za-z0-9+/]{4}){4,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?|[A-Za-z0-9_-]{24,}"
)
B32 = re.compile(r"\b[A-Z2-7]{16,}={0,6}")
HEX = re.compile(r"\b(?:0x)?((?:[0-9a-fA-F]{2}[\s:]?){8,})\b")
BINARY = re.compile(r"(?<![01])((?:[01]{8}[\s,]*){4,})")
# Morse letters are 1-6 dots/dashes; words are split by " / " or 2+ spaces.
MORSE = re.compile(r"(?<![\w.\-])((?:[.\-]{1,6}(?: +| */ *)){4,}[.\-]{1,6})(?![\w.\-])")
PERCENT = re.compile(r"(?:[\w.~+-]*%[0-9A-Fa-f]{2}){2,}[\w.~+-]*")
MAX_DEPTH = 2
MORSE_TABLE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g",
    "....": "h", "..": "i", ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n",
    "---": "o", ".--.": "p", "--.-": "q", ".-.": "r", "...": "s", "-": "t", "..-": "u",
    "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z", "-----": "0",
    ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6",
    "--...": "7", "---..": "8", "----.": "9", ".-.-.-": ".", "--..--": ",", "..--..": "?",
    "-.-.--": "!", "-..-.": "/", ".--.-.": "@", "---...": ":", "-...-": "=", ".----.": "'",
}  # fmt: skip


@dataclass(slots=True, frozen=True)
class Decoded:
    encoding: str  # "base64", "morse", ..., a chain like "base64>hex", or "inline"
    text: str


def _readable(s: str) -> bool:
    """Mostly letters and spaces: decoded text worth rescanning."""
    good = sum(c.isalnum() or c.isspace() or c in ".,:;!?'\"-()/@" for c in s)
    return len(s) >= 6 and good / len(s) >= 0.85 and any(c.isspace() for c in s)


def _text(b: bytes) -> str | None:
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return s if s.isprintable() or _readable(s) else None


def _b64(span: str) -> str | None:
    s = span.replace("-", "+").replace("_", "/")
    try:
        return _text(base64.b64decode(s + "=" * (-len(s) % 4), validate=True))
    except (binascii.Error, ValueError):
        return None


def _b32(span: str) -> str | None:
    s = span.rstrip("=")
    try:
        return _text(base64.b32decode(s + "=" * (-len(s) % 8)))
    except (binascii.Error, ValueError):
        return None


def _hex(span: str) -> str | None:
    digits = re.sub(r"[\s:]|0x", "", span)
    if len(digits) % 2:
        return None
    try:
        return _text(bytes.fromhex(digits))
    except ValueError:
        return None


def _binary(span: str) -> str | None:
    bits = re.findall(r"[01]{8}", span)
    return _text(bytes(int(b, 2) for b in bits))


def _morse(span: str) -> str | None:
    words = re.split(r" */ *| {2,}", span.strip())
    out = []
    for w in words:
        codes = w.split()
        if not all(c in MORSE_TABLE for c in codes):
            return None
        out.append("".join(MORSE_TABLE[c] for c in codes))
    return " ".join(out)


def _percent(span: str) -> str | None:
    plain = urllib.parse.unquote_plus(span, errors="strict")
    return plain if plain != span and (plain.isprintable() or _readable(plain)) else None


Decoder = tuple[str, re.Pattern[str], Callable[[str], str | None]]
# Order matters: a span claimed by an earlier, stricter alphabet is not decoded again as base64.
DECODERS: tuple[Decoder, ...] = (
    ("binary", BINARY, _binary),
    ("morse", MORSE, _morse),
    ("hex", HEX, _hex),
    ("percent", PERCENT, _percent),
    ("base32", B32, _b32),
    ("base64", B64, _b64),
)


def _safe(fn: Callable[[str], str | None], span: str) -> str | None:
    try:
        return fn(span)
    except (UnicodeDecodeError, ValueError):
        return None


def decode_payloads(text: str, depth: int = MAX_DEPTH) -> list[Decoded]:
    """Every readable text hidden in `text` by one of `DECODERS` (recursively).

    A decoded span that is not readable itself but is printable ASCII may be a second layer
    (base64 of base64): it is decoded again, and only readable results are returned.
    """
    out: list[Decoded] = []
    claimed: list[str] = []  # spans decoded as a stricter alphabet (binary / hex / base32)
    spans: list[tuple[int, int, str]] = []  # (start, end, decoding) of readable spans
    for enc, pattern, fn in DECODERS:
        for m in pattern.finditer(text):
            span = m.group(1) if m.groups() else m.group(0)
            if enc in ("base64", "base32") and any(span in c or c in span for c in claimed):
                continue
            plain = _safe(fn, span)
            if plain is None:
                continue
            if enc != "base64":
                claimed.append(span)
            if _readable(plain):
                out.append(Decoded(enc, plain))
                start = m.start(1) if m.groups() else m.start()
                spans.append((start, start + len(span), plain))
            if depth > 1:
                inner = decode_payloads(plain, depth - 1)
                out += [Decoded(f"{enc}>{d.encoding}", d.text) for d in inner]
    if spans and (inline := _inline(text, spans)) != text:
        out.insert(0, Decoded("inline", inline))
    return out


def _inline(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with each decoded span replaced by its decoding: what the attacked model reads,
    the wrapper's words ("for the agent: ...") and the hidden instruction in one sentence."""
    out, pos = [], 0
    for start, end, plain in sorted(spans):
        if start < pos:  # overlaps a span already replaced (e.g. base64 inside a URL)
            continue
        out += [text[pos:start], plain]
        pos = end
    return "".join(out) + text[pos:]


def rot13(text: str) -> str:
    return codecs.encode(text, "rot13")
