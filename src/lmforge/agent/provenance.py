"""Argument provenance: a side-effecting call's sensitive values must come from the user.

Tool denial cannot stop an injection that asks for a *granted* tool (send the money, but to the
attacker's IBAN). So the values that decide where an effect lands (recipients, IBANs, URLs,
e-mail addresses, amounts, file paths; the tool declares them in `sensitive_args`) must trace to
trusted text: the system prompt, the user's task, or values the operator vouches for in the
grant (`trusted_values`). A value that occurs only in tool output is tainted, and the call is
refused with the argument and its cause. Identifiers embedded in free-text arguments of such a
call (URLs, e-mail addresses, IBANs in its `text_args`, e.g. a message body) are checked too:
a phishing link or an exfiltration address fits in a body as well as in a recipient field.

Values found nowhere (the model computed or chose them) pass: provenance refuses what an
injection can supply, not what the model derives. Matching is on whole tokens, case-folded, so
`10` is not traced by `100`; values under `min_chars` are too short to carry provenance.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lmforge.agent.tools.base import Tool

IDENTIFIERS = re.compile(
    r"(?:https?://|www\.)[^\s\"'<>)\]]+"  # URLs
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
    r"|\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b",  # IBANs
    re.IGNORECASE,
)


def _norm(v: str) -> str:
    v = v.strip().casefold().rstrip(".,;:!?")
    return re.sub(r"^https?://", "", v).rstrip("/")


def _scalars(value: Any) -> Iterator[str]:
    """Every scalar in an argument value (lists of recipients, nested objects)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _scalars(v)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


@dataclass(slots=True)
class Provenance:
    """Trusted and untrusted text seen in one run; `check` refuses tainted sensitive values."""

    trusted: list[str] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)
    min_chars: int = 2

    def trust(self, text: str) -> None:
        self.trusted.append(_norm_text(text))

    def observe(self, tool_output: str) -> None:
        self.untrusted.append(_norm_text(tool_output))

    def origin(self, value: str, vouched: Iterable[str] = ()) -> str:
        """'trusted', 'tool' (occurs only in tool output) or 'none' (occurs nowhere)."""
        v = _norm(value)
        if len(v) < self.min_chars or v in {_norm(x) for x in vouched}:
            return "trusted"
        pat = re.compile(r"(?<![\w])" + re.escape(v) + r"(?![\w])")
        if any(pat.search(t) for t in self.trusted):
            return "trusted"
        return "tool" if any(pat.search(t) for t in self.untrusted) else "none"

    def check(self, tool: Tool, args: dict[str, Any], vouched: Iterable[str] = ()) -> None:
        """Raise `Refused` if an effectful call's sensitive value came only from tool output."""
        from lmforge.agent.policy import Refused

        if not tool.has_effect(args):
            return
        vouched = list(vouched)
        candidates: list[tuple[str, str]] = []
        for name, value in args.items():
            if name in tool.sensitive_args:
                candidates += [(name, s) for s in _scalars(value)]
            if name in tool.text_args:
                candidates += [(name, m) for s in _scalars(value) for m in IDENTIFIERS.findall(s)]
        for name, value in candidates:
            if self.origin(value, vouched) == "tool":
                raise Refused(
                    f"argument {name!r} = {value[:80]!r} of {tool.name!r} appears only in tool "
                    "output, not in the task or the policy (untrusted provenance)"
                )


def _norm_text(text: str) -> str:
    return re.sub(r"https?://", "", text.casefold())
