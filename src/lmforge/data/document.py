"""The unit every step sees: a document with an id, its text and free-form metadata."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Document:
    """One record of a corpus.

    `pos` is the document's place in the input ((file index, record index)): it is the same
    whatever the sharding or the executor, so it is what deduplication uses to pick, among
    duplicates, the one to keep (the first in input order).
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    pos: tuple[int, int] = (0, 0)

    def to_record(self) -> dict[str, Any]:
        """Flat output record: id, text and the metadata fields (what trainers read)."""
        return {"id": self.id, "text": self.text, **self.metadata}


@dataclass(slots=True)
class Rejected:
    """A document (or unreadable record) dropped by a step, with the step and reason."""

    step: str
    reason: str
    id: str
    text: str
    source: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step,
            "reason": self.reason,
            "source": self.source,
            "text": self.text,
            **({"detail": self.detail} if self.detail else {}),
        }
