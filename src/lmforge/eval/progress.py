"""Progress of a task as log lines (items done, items/s, ETA), terminal or not.

A rich bar vanishes when stdout is a file or a pipe, so a 19-minute run under nohup or CI
printed nothing until the end. Tasks run in chunks (`CHUNKS` per task, at least `MIN_CHUNK`
items each, so backends still batch well), and after each chunk one line goes to the
`lmforge.eval` logger, which `lmforge eval run` sends to stderr and to the run's `eval.log`.
"""

import contextlib
import logging
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("lmforge.eval")
CHUNKS = 20
MIN_CHUNK = 16


def chunk_size(n: int) -> int:
    return max(MIN_CHUNK, math.ceil(n / CHUNKS))


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@dataclass(slots=True)
class TaskProgress:
    task: str
    total: int
    done: int = 0
    t0: float = field(default_factory=time.perf_counter)

    def advance(self, n: int) -> str:
        """Count `n` more items done and log the line (returned, for tests)."""
        self.done += n
        dt = max(time.perf_counter() - self.t0, 1e-9)
        rate = self.done / dt
        eta = (self.total - self.done) / rate if rate > 0 else math.inf
        pct = 100 * self.done / max(self.total, 1)
        line = (
            f"task {self.task}: {self.done}/{self.total} items ({pct:.0f}%), {rate:.2f} items/s,"
            f" elapsed {_clock(dt)}, ETA {_clock(eta)}"
        )
        log.info(line)
        return line


@contextlib.contextmanager
def log_to(path: Path) -> Iterator[None]:
    """Send `lmforge.eval` progress lines to stderr and to `path` while the block runs."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr), logging.FileHandler(path)]
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    old = log.level
    log.setLevel(logging.INFO)
    for h in handlers:
        h.setFormatter(fmt)
        log.addHandler(h)
    try:
        yield
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()
        log.setLevel(old)
