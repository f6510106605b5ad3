"""Unicode obfuscation: invisible and bidirectional characters, tag smuggling, homoglyphs.

Attackers hide instructions from human reviewers (zero-width and bidi controls reorder or hide
text) and from classifiers (Cyrillic o, U+043E, for Latin o makes 'ignore' a different token).
`inspect` reports what it found and returns the text a model would effectively read: invisible
characters removed, Unicode tag characters decoded to the ASCII they smuggle, NFKC applied and
homoglyphs folded to Latin with the Unicode confusables table (via `confusable_homoglyphs`).
"""

import functools
import unicodedata
from dataclasses import dataclass, field

from lmforge.extras import require

BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e")
TAG_START, TAG_END = 0xE0000, 0xE007F  # "ASCII smuggling": invisible copies of ASCII


@dataclass(slots=True)
class UnicodeReport:
    clean: str  # what to rescan
    bidi: int = 0
    invisible: int = 0
    tag_payload: str = ""
    homoglyphs: list[str] = field(default_factory=list)  # obfuscated words, folded

    @property
    def suspicious(self) -> bool:
        return bool(self.bidi or self.invisible or self.tag_payload or self.homoglyphs)


@functools.cache
def _fold_table() -> dict[int, str]:
    """Confusable character -> its ASCII look-alike, from Unicode's confusables.txt."""
    data = require("guard", "confusable_homoglyphs.confusables").confusables_data
    table: dict[int, str] = {}
    for ch, entries in data.items():
        if len(ch) != 1 or ch.isascii():
            continue
        for e in entries:
            c = e["c"]
            if len(c) == 1 and c.isascii() and c.isalnum():
                table[ord(ch)] = c
                break
    return table


def inspect(text: str) -> UnicodeReport:
    """Find hidden characters and homoglyph words; return the de-obfuscated text."""
    kept: list[str] = []
    tags: list[str] = []
    bidi = invisible = 0
    for ch in text:
        cp = ord(ch)
        if TAG_START <= cp <= TAG_END:
            if 0x20 <= cp - TAG_START < 0x7F:
                tags.append(chr(cp - TAG_START))
        elif ch in BIDI:
            bidi += 1
        elif ch in ZERO_WIDTH:
            # A ZWJ between two emoji is how emoji sequences are built: not obfuscation.
            invisible += ch != "\u200d" or not (kept and not kept[-1].isascii())
        else:
            kept.append(ch)
    clean = unicodedata.normalize("NFKC", "".join(kept))
    report = UnicodeReport(clean, bidi, invisible, "".join(tags))
    if not clean.isascii():
        table = _fold_table()
        words = clean.split()
        folded = []
        for w in words:
            f = w.translate(table)
            # Homoglyph obfuscation mixes scripts inside a word: some ASCII letters, some
            # look-alikes. A fully Cyrillic or Greek word is just another language.
            if f != w and any(c.isascii() and c.isalpha() for c in w):
                report.homoglyphs.append(f)
                folded.append(f)
            else:
                folded.append(w)
        if report.homoglyphs:
            report.clean = " ".join(folded)
    if report.tag_payload:
        report.clean = f"{report.clean}\n{report.tag_payload}"
    return report
