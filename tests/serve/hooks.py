"""A trivial scanner for the guard hook, steerable by tests."""

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.serve.conftest import Running, start_server

from lmforge.serve.server import loader


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


def start_scanned(cfg: Any) -> tuple[Running, TestScanner]:
    """A real server whose loader appends a steerable TestScanner to the guard hook."""
    scanner = TestScanner()

    def load() -> Any:
        loaded = loader(cfg)
        loaded.scanners.append(scanner)
        return loaded

    return start_server(cfg, load), scanner


def start_slow(cfg: Any, step_s: float = 0.02) -> Running:
    """A real server whose engine sleeps `step_s` before every step: slow by design.

    A request of N decode steps then takes at least N * step_s on any machine, so a test that
    needs a request still running when the client gives up sets N large (ignore_eos) instead
    of hoping the machine is slow enough.
    """

    def load() -> Any:
        loaded = loader(cfg)
        llm = loaded.engine.engine  # the LLMEngine that AsyncLLMEngine steps in a thread
        step = llm.step

        def slow_step() -> Any:
            time.sleep(step_s)
            return step()

        llm.step = slow_step
        return loaded

    return start_server(cfg, load)
