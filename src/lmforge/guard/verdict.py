"""What every scanner returns: an action, a score and a human reason.

One small type shared by input, output and context scanners, so the server and RAG only ever
look at `Verdict.action` and never at scanner internals. Actions are ordered: combining verdicts
keeps the most severe one, because one blocking scanner must be enough to block.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["allow", "flag", "block"]
SEVERITY: dict[str, int] = {"allow": 0, "flag": 1, "block": 2}


@dataclass(slots=True, frozen=True)
class Verdict:
    """One scanner's decision. `score` is in [0, 1]: 0 is clean, 1 is certainly bad."""

    scanner: str
    action: Action
    score: float
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.action in SEVERITY, self.action
        assert 0.0 <= self.score <= 1.0, self.score

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanner": self.scanner,
            "action": self.action,
            "score": round(self.score, 4),
            "reason": self.reason,
            **({"details": self.details} if self.details else {}),
        }


def allow(scanner: str, score: float = 0.0, reason: str = "") -> Verdict:
    return Verdict(scanner, "allow", score, reason)


def worst(verdicts: list[Verdict]) -> Action:
    """The most severe action among `verdicts` ('allow' when there are none)."""
    return max((v.action for v in verdicts), key=SEVERITY.__getitem__, default="allow")
