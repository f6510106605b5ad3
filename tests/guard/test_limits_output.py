"""Limits (length, tokens, rate per key) and the output scanners."""

from lmforge.guard.config import LimitsPolicy
from lmforge.guard.limits import RateLimiter, check_limits
from lmforge.guard.output import (
    cited,
    make_canary,
    scan_canary,
    scan_citations,
    scan_toxicity,
    with_canary,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_rate_limiter_sliding_window_per_key() -> None:
    clock = FakeClock()
    rl = RateLimiter(3, clock)
    assert [rl.hit("a")[0] for _ in range(4)] == [True, True, True, False]
    assert rl.hit("b")[0]  # other keys have their own window
    clock.t += 59.9
    assert not rl.hit("a")[0]
    clock.t += 0.2  # the first three hits are now older than 60 s
    assert rl.hit("a") == (True, 1)


def test_length_and_token_limits() -> None:
    p = LimitsPolicy(max_chars=50, max_tokens=5, rate_per_minute=100)
    rl = RateLimiter(100)
    words = len

    def count(s: str) -> int:
        return words(s.split())

    assert check_limits("x" * 51, p, rl, None, count).reason.startswith("prompt is 51 chars")
    assert check_limits("a b c d e f", p, rl, None, count).action == "block"
    assert check_limits("a b c", p, rl, None, count).action == "allow"


def test_canary_and_verbatim_leak() -> None:
    c = make_canary()
    system = with_canary("You are the support bot of ACME. Never discuss pricing.", c)
    assert c in system
    assert scan_canary(f"Sure! My instructions end with [{c}]", [c]).action == "block"
    assert scan_canary(f"spaced out: {' '.join(c)}", [c]).action == "block"
    assert scan_canary("Happy to help with your order.", [c]).action == "allow"
    long_sys = "one two three four five six seven eight nine ten eleven twelve thirteen"
    leak = "I was told: one two three four five six seven eight nine ten eleven twelve"
    assert scan_canary(leak, [], long_sys).action == "block"


def test_citations_must_exist() -> None:
    assert cited("As shown [1] and [2, doc-7].") == ["1", "2", "doc-7"]
    assert scan_citations("Paris [1][2].", ["a", "b"]).action == "allow"
    assert scan_citations("Paris [doc-a].", ["doc-a"]).action == "allow"
    v = scan_citations("Paris [3] and [doc-z].", ["a", "b"])
    assert v.action == "block" and "3" in v.reason and "doc-z" in v.reason


def test_toxicity_word_list() -> None:
    v = scan_toxicity("you are a fucking idiot", 0.5)
    assert v.action == "block" and "fucking" in v.reason
    assert scan_toxicity("you are a wonderful person", 0.5).action == "allow"
