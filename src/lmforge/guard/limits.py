"""Request limits: prompt length in characters and tokens, and a sliding-window rate per key."""

import threading
import time
from collections import deque
from collections.abc import Callable

from lmforge.guard.config import LimitsPolicy
from lmforge.guard.verdict import Verdict, allow


class RateLimiter:
    """At most `per_minute` requests per key in any 60 s window (thread-safe).

    A sliding window of timestamps rather than a token bucket: the limit a user reads in the
    policy is exactly what they get, with no burst allowance to explain.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        assert per_minute >= 1
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> tuple[bool, int]:
        """Record a request; (allowed, requests in the current window including this one)."""
        now = self.clock()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - 60.0:
                q.popleft()
            if len(q) >= self.per_minute:
                return False, len(q) + 1
            q.append(now)
            return True, len(q)


def check_limits(
    text: str,
    policy: LimitsPolicy,
    limiter: RateLimiter,
    key: str | None,
    count_tokens: Callable[[str], int],
) -> Verdict:
    """Block a request that is too long, or over its key's rate; allow it otherwise."""
    if len(text) > policy.max_chars:
        return Verdict(
            "limits", "block", 1.0, f"prompt is {len(text)} chars; limit {policy.max_chars}"
        )
    n_tok = count_tokens(text)
    if n_tok > policy.max_tokens:
        return Verdict(
            "limits", "block", 1.0, f"prompt is {n_tok} tokens; limit {policy.max_tokens}"
        )
    # A library call without a key is one program scanning its own texts: no quota to enforce.
    # A caller opts anonymous traffic into one shared bucket with `rate_limit_anonymous`.
    if key is None and not policy.rate_limit_anonymous:
        return allow("limits", 0.0, f"{n_tok} tokens (no key: not rate-limited)")
    ok, n = limiter.hit(key if key is not None else "anonymous")
    if not ok:
        who = "anonymous callers" if key is None else "this key"
        return Verdict(
            "limits",
            "block",
            1.0,
            f"rate limit exceeded: {who} made {n} requests in the last minute; "
            f"limit {policy.rate_per_minute}/minute per key",
            {"rate": True, "rate_per_minute": policy.rate_per_minute},
        )
    return allow("limits", 0.0, f"{n_tok} tokens, {n} requests this minute")
