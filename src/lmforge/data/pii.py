"""Detect and redact personal data: e-mail addresses, phone numbers, IP addresses, card numbers.

Pure regex + validation, no dependencies, so the guardrails stage can import it cheaply.
Precision matters more than recall for training data (over-redaction destroys useful text),
so every candidate is validated: IPs through `ipaddress`, card numbers through Luhn and their
length, phones by their digit count. Where two detectors claim the same characters the more
specific one wins (email > credit_card > ip > phone), so a card number is never also a phone.
"""

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("email", "credit_card", "ip", "phone")  # priority order for overlapping matches

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}(?![\w-])")
# 13-19 digits, optionally grouped by single spaces or hyphens (how cards are written).
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# +CC and/or (area) prefixes, then 2-3 groups of digits split by space, dot or hyphen; or a bare
# E.164 number (+ and 8-15 digits). Unprefixed runs of digits are not phones (too many ids are).
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?|\d{1,4}[ .-])|\(\d{1,4}\)[ .-]?|\d{2,4}[ .-])"
    r"\d{3,4}[ .-]\d{3,4}"
    r"|\+\d{8,15}"
    r")(?!\w)"
)


@dataclass(slots=True, frozen=True)
class PIIMatch:
    """One piece of personal data: its kind and its [start, end) span in the text."""

    kind: str
    start: int
    end: int
    text: str


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies (catches ~90% of random digits)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_card(s: str) -> bool:
    digits = s.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def _valid_ip(s: str) -> bool:
    # IPv6 needs 4+ hex digits (or is loopback) so `x[1::2]`-style code is not an address.
    if ":" in s and s != "::1" and sum(c in "0123456789abcdefABCDEF" for c in s) < 4:
        return False
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def _valid_phone(s: str) -> bool:
    return 7 <= sum(c.isdigit() for c in s) <= 15


_DETECTORS = {
    "email": ((_EMAIL,), None),
    "credit_card": ((_CARD,), _valid_card),
    "ip": ((_IPV4, _IPV6), _valid_ip),
    "phone": ((_PHONE,), _valid_phone),
}


def _check_kinds(kinds: Iterable[str] | None) -> tuple[str, ...]:
    if kinds is None:
        return KINDS
    wanted = tuple(kinds)
    unknown = [k for k in wanted if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown PII kind(s) {unknown}; known: {list(KINDS)}")
    return wanted


def find_pii(text: str, kinds: Iterable[str] | None = None) -> list[PIIMatch]:
    """All PII in `text` of the given kinds (default: all), sorted by position, never overlapping.

    Every kind is detected even when not requested, so that e.g. asking only for phones does
    not report the middle of a card number as a phone.
    """
    wanted = _check_kinds(kinds)
    taken: list[PIIMatch] = []
    # Spans no later detector may claim: every match, and card-shaped digit runs that fail
    # Luhn (a 16-digit number is an id or a typo, never a phone number).
    blocked: list[tuple[int, int]] = []
    for kind in KINDS:
        patterns, valid = _DETECTORS[kind]
        for pattern in patterns:
            for m in pattern.finditer(text):
                s, e = m.span()
                if any(s < be and bs < e for bs, be in blocked):
                    continue
                if valid is None or valid(m.group()):
                    taken.append(PIIMatch(kind, s, e, m.group()))
                    blocked.append((s, e))
                elif kind == "credit_card":
                    blocked.append((s, e))
    return sorted((m for m in taken if m.kind in wanted), key=lambda m: m.start)


def redact_pii(
    text: str, kinds: Iterable[str] | None = None, placeholder: str = "[{kind}]"
) -> tuple[str, dict[str, int]]:
    """`text` with each PII match replaced by `placeholder.format(kind=...)`, and counts per kind.

    The counts have a key for every requested kind (0 when none was found), so they can be
    summed across documents into a stable table.
    """
    wanted = _check_kinds(kinds)
    counts = dict.fromkeys(wanted, 0)
    parts: list[str] = []
    pos = 0
    for m in find_pii(text, wanted):
        parts.append(text[pos : m.start])
        parts.append(placeholder.format(kind=m.kind))
        counts[m.kind] += 1
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts), counts
