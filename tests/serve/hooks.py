"""A trivial scanner for the guard hook, steerable by tests."""

import threading
from dataclasses import dataclass, field


@dataclass(slots=True)
class Result:
    blocked: bool
    text: str
    reason: str = ""


@dataclass
class TestScanner:
    """Blocks prompts containing `banned`; upper-cases or blocks outputs; can hold or crash."""

    __test__ = False  # not a pytest class
    banned: str = "forbidden"
    output: str = "pass"  # "pass", "upper" or "block"
    crash: bool = False
    hold: threading.Event | None = None
    holding: threading.Event = field(default_factory=threading.Event)

    def scan_input(self, text: str, key: str | None = None) -> Result:
        if self.crash:
            raise RuntimeError("scanner bug with a secret path /etc/passwd")
        return Result(self.banned in text, text, f"contains {self.banned!r}")

    def scan_output(self, text: str) -> Result:
        if self.hold is not None:
            self.holding.set()
            self.hold.wait(30)
        if self.output == "block":
            return Result(len(text) > 3, text, "too long")
        return Result(False, text.upper() if self.output == "upper" else text)
