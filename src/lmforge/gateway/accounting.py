"""The ledger: per (key, backend) tokens in/out, cost, latency and cache hits; key budgets.

Every upstream answer is billed exactly once, from the usage it reports (the final chunk of a
stream, or the body) or, when a stream carries none, from tokens counted locally with the
backend's tokenizer (`usage.py`). A failed attempt that returned no answer is not billed; a
stream the client abandoned is billed for what the upstream produced until it was stopped.
Budgets are checked before a request is sent; requests already in flight when a budget runs
out still complete (and are billed), so a key can overshoot by at most its concurrent requests.
"""

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lmforge.files import atomic_write_json
from lmforge.gateway.config import KeyConfig
from lmforge.serve.errors import APIError

LEDGER = "ledger.json"
ANON = "anonymous"


@dataclass(slots=True)
class Line:
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    latency_s: float = 0.0  # summed; the report divides by requests
    cache_hits: int = 0
    errors: int = 0
    local_counts: int = 0  # streams billed from local token counts (upstream sent no usage)


@dataclass(slots=True)
class Ledger:
    keys: dict[str, KeyConfig] = field(default_factory=dict)
    lines: dict[tuple[str, str], Line] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    dirty: bool = False

    def line(self, key: str, backend: str) -> Line:
        ln = self.lines.get((key, backend))
        if ln is None:
            ln = self.lines[(key, backend)] = Line()
        return ln

    def bill(
        self,
        key: str,
        backend: str,
        tokens_in: int,
        tokens_out: int,
        cost: float,
        latency_s: float,
        local: bool = False,
    ) -> None:
        ln = self.line(key, backend)
        ln.requests += 1
        ln.tokens_in += tokens_in
        ln.tokens_out += tokens_out
        ln.cost += cost
        ln.latency_s += latency_s
        ln.local_counts += int(local)
        self.dirty = True

    def cache_hit(self, key: str) -> None:
        ln = self.line(key, "cache")
        ln.requests += 1
        ln.cache_hits += 1
        self.dirty = True

    def error(self, key: str, backend: str) -> None:
        self.line(key, backend).errors += 1
        self.dirty = True

    def totals(self, key: str) -> Line:
        t = Line()
        for (k, _), ln in self.lines.items():
            if k == key:
                for f in ("requests", "tokens_in", "tokens_out", "cost", "cache_hits"):
                    setattr(t, f, getattr(t, f) + getattr(ln, f))
        return t

    def check_budget(self, key: str) -> None:
        """429 naming the budget that ran out, what was spent and how to raise it."""
        kc = self.keys.get(key)
        if kc is None:
            return
        t = self.totals(key)
        checks = (
            ("budget_requests", kc.budget_requests, t.requests, "requests"),
            ("budget_tokens", kc.budget_tokens, t.tokens_in + t.tokens_out, "tokens"),
            ("budget_usd", kc.budget_usd, t.cost, "USD"),
        )
        for name, limit, used, unit in checks:
            if limit is not None and used >= limit:
                raise APIError(
                    429,
                    f"key {key!r} has used {used:.6g} of its {limit:.6g} {unit} ({name}); "
                    "raise it in the gateway config or use another key",
                    code="budget_exceeded",
                )

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "updated": time.time(),
            "lines": [{"key": k, "backend": b, **asdict(ln)} for (k, b), ln in self.lines.items()],
        }

    def save(self, run_dir: Path) -> None:
        atomic_write_json(run_dir / LEDGER, self.to_json())
        self.dirty = False


def load_ledger(path: Path) -> list[dict[str, Any]]:
    import json

    from lmforge.errors import LMForgeError

    try:
        return json.loads(path.read_text(encoding="utf-8"))["lines"]
    except (OSError, ValueError, KeyError) as e:
        raise LMForgeError(f"{path}: not a gateway ledger ({e})") from None
