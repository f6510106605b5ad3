"""Admission control: at most `capacity` sequences in the engine, a bounded FIFO queue, 429 past it.

The server, not the engine, holds the queue: that makes "queue full" a decision we can take
before any work is done (429 with Retry-After), and it makes the queue time an exact figure
(`lmforge:request_queue_time_seconds` is the wait for a slot here). A request with n choices
takes n slots, since the engine runs n sequences for it.
"""

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from lmforge.serve.errors import APIError


@dataclass(slots=True)
class Admission:
    capacity: int
    max_queue: int
    running: int = 0
    waiting: deque[tuple[int, asyncio.Future[None]]] = field(default_factory=deque)

    @property
    def waiting_seqs(self) -> int:
        return sum(n for n, _ in self.waiting)

    @contextlib.asynccontextmanager
    async def slot(self, n: int) -> AsyncIterator[float]:
        """Hold `n` sequence slots for the block; yields the seconds spent queued."""
        assert 1 <= n <= self.capacity, (n, self.capacity)
        t0 = time.perf_counter()
        if not self.waiting and self.running + n <= self.capacity:
            self.running += n
        else:
            if self.waiting_seqs + n > self.max_queue:
                raise APIError(
                    429,
                    f"server is at capacity ({self.running} running, {self.waiting_seqs} "
                    f"queued, queue limit {self.max_queue}); retry later",
                    code="queue_full",
                    headers={"Retry-After": "1"},
                )
            entry = (n, asyncio.get_running_loop().create_future())
            self.waiting.append(entry)
            try:
                await entry[1]
            except BaseException:
                if entry in self.waiting:
                    self.waiting.remove(entry)
                elif entry[1].done() and not entry[1].cancelled():
                    self._release(n)  # granted just as we were cancelled
                raise
        try:
            yield time.perf_counter() - t0
        finally:
            self._release(n)

    def _release(self, n: int) -> None:
        self.running -= n
        assert self.running >= 0
        while self.waiting and self.running + self.waiting[0][0] <= self.capacity:
            k, fut = self.waiting.popleft()
            if not fut.done():
                self.running += k
                fut.set_result(None)
