"""Safety steps: word-list toxicity (with a slot for a classifier) and PII redaction."""

from collections.abc import Callable
from typing import ClassVar

from lmforge.data.document import Document
from lmforge.data.pii import KINDS, find_pii, redact_pii
from lmforge.data.steps import KEEP, Step
from lmforge.data.toxicity import toxicity_score, wordlist
from lmforge.extras import require


class Toxicity(Step):
    """Drop documents whose toxicity score exceeds `threshold`.

    The default scorer is the better-profanity word list (`lmforge.data.toxicity`). `classifier`
    names a `module:function` taking text and returning a score in [0, 1] (e.g. a wrapper
    around a local transformers classifier); it replaces the word list when given.
    """

    name = "toxicity"

    def __init__(self, threshold: float = 0.5, classifier: str | None = None) -> None:
        assert 0.0 <= threshold <= 1.0, threshold
        self.threshold, self.classifier = threshold, classifier
        self._score: Callable[[str], float] = toxicity_score
        if classifier is None:
            require("data", "better_profanity")

    def setup(self) -> None:
        if self.classifier is None:
            wordlist()
            return
        import importlib

        module, _, func = self.classifier.partition(":")
        self._score = getattr(importlib.import_module(module), func)

    def __call__(self, doc: Document) -> tuple[bool, str]:
        score = float(self._score(doc.text))
        doc.metadata["toxicity"] = round(score, 4)
        return (False, "toxicity_score") if score > self.threshold else KEEP


class PII(Step):
    """Redact (default) or drop documents containing e-mails, phones, IPs, card numbers.

    Counts per kind go to metadata["pii"] and, summed, into the run's counts table.
    """

    name = "pii"
    MODES: ClassVar[tuple[str, ...]] = ("redact", "drop")

    def __init__(
        self, kinds: list[str] | None = None, mode: str = "redact", placeholder: str = "[{kind}]"
    ) -> None:
        assert mode in self.MODES, mode
        self.kinds = tuple(kinds) if kinds else KINDS
        self.mode, self.placeholder = mode, placeholder

    def __call__(self, doc: Document) -> tuple[bool, str]:
        if self.mode == "drop":
            found = find_pii(doc.text, self.kinds)
            return (False, f"pii_{found[0].kind}") if found else KEEP
        doc.text, counts = redact_pii(doc.text, self.kinds, self.placeholder)
        if any(counts.values()):
            doc.metadata["pii"] = {k: v for k, v in counts.items() if v}
        return KEEP
