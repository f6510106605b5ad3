"""Decode payloads hidden in base64, hex or rot13 so they can be rescanned.

A classifier trained on plain text does not read `aWdub3JlIGFsbCBwcmV2aW91cw==`; the model
being attacked often does. We extract candidate encoded spans, decode them, keep the results
that read as text, and hand them back for a second scan (recursively, to a small depth, since
base64-of-base64 is a known trick). rot13 has no alphabet of its own, so the whole text's rot13
is always a candidate: it is matched only against the rules, never trusted on its own.
"""

import base64
import binascii
import codecs
import re
from dataclasses import dataclass

B64 = re.compile(
    r"(?:[A-Za-z0-9+/]{4}){4,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?|[A-Za-z0-9_-]{24,}"
)
HEX = re.compile(r"\b(?:0x)?((?:[0-9a-fA-F]{2}[\s:]?){8,})\b")
MAX_DEPTH = 2


@dataclass(slots=True, frozen=True)
class Decoded:
    encoding: str  # "base64", "hex", "rot13", or a chain like "base64>hex"
    text: str


def _readable(s: str) -> bool:
    """Mostly letters and spaces: decoded text worth rescanning."""
    good = sum(c.isalnum() or c.isspace() or c in ".,:;!?'\"-()" for c in s)
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


def _hex(span: str) -> str | None:
    digits = re.sub(r"[\s:]|0x", "", span)
    if len(digits) % 2:
        return None
    try:
        return _text(bytes.fromhex(digits))
    except ValueError:
        return None


def decode_payloads(text: str, depth: int = MAX_DEPTH) -> list[Decoded]:
    """Every readable text hidden as base64 or hex in `text` (recursively).

    A decoded span that is not readable itself but is printable ASCII may be a second layer
    (base64 of base64): it is decoded again, and only readable results are returned.
    """
    out: list[Decoded] = []
    for enc, pattern, fn in (("hex", HEX, _hex), ("base64", B64, _b64)):
        for m in pattern.finditer(text):
            span = m.group(1) if m.groups() else m.group(0)
            # A hex string is also valid base64; decode it once, as hex.
            if enc == "base64" and HEX.fullmatch(span):
                continue
            plain = fn(span)
            if plain is None:
                continue
            if _readable(plain):
                out.append(Decoded(enc, plain))
            if depth > 1:
                inner = decode_payloads(plain, depth - 1)
                out += [Decoded(f"{enc}>{d.encoding}", d.text) for d in inner]
    return out


def rot13(text: str) -> str:
    return codecs.encode(text, "rot13")
