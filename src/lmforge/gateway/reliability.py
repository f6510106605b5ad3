"""Retries with jittered exponential backoff (honouring Retry-After) and a per-backend breaker.

What is retried: timeouts, connection errors, 429 and 5xx (the statuses that mean "not now",
not "your request is wrong"); a 4xx other than 429 goes straight back to the client. A retry
only happens before any byte of the answer has been passed on, so no client sees two partial
answers and nothing is billed twice.
"""

import email.utils
import random
import time
from dataclasses import dataclass

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_s(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Delay before retry `attempt` (1-based): full jitter over base*2^(attempt-1), at least the
    server's Retry-After; capped, so a hostile header cannot park a request for an hour."""
    jittered = random.uniform(0, base * 2 ** (attempt - 1))
    return min(cap, max(jittered, retry_after or 0.0))


@dataclass(slots=True)
class Breaker:
    """Closed -> open after `failures` consecutive failures -> half-open after `reset_s`:
    one trial request passes; its success closes the breaker, its failure re-opens it."""

    failures: int
    reset_s: float
    consecutive: int = 0
    opened_at: float | None = None
    trial_out: bool = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - self.opened_at >= self.reset_s else "open"

    def allow(self) -> bool:
        s = self.state
        if s == "closed":
            return True
        if s == "half-open" and not self.trial_out:
            self.trial_out = True
            return True
        return False

    def success(self) -> None:
        self.consecutive, self.opened_at, self.trial_out = 0, None, False

    def failure(self) -> None:
        self.consecutive += 1
        self.trial_out = False
        if self.opened_at is not None or self.consecutive >= self.failures:
            self.opened_at = time.monotonic()
