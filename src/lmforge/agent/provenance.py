"""Argument provenance: a side-effecting call's sensitive values must come from the user.

Tool denial cannot stop an injection that asks for a *granted* tool (send the money, but to the
attacker's IBAN). So the values that decide where an effect lands (recipients, IBANs, URLs,
e-mail addresses, amounts, file paths; the tool declares them in `sensitive_args`) must trace to
trusted text: the system prompt, the user's task, or values the operator vouches for in the
grant (`trusted_values`). Identifiers embedded in free-text arguments of such a call (URLs,
e-mail addresses, IBANs in its `text_args`, e.g. a message body) are checked too: a phishing
link or an exfiltration address fits in a body as well as in a recipient field.

Tool output is not all alike, though. "Pay the bill in bill.txt" makes the bill's IBAN the
user's value: the user named the source. So a tool result is *endorsed* when the call that
produced it was pointed at by the task (its identifying arguments, the file, channel, inbox or
URL it reads, trace to trusted or endorsed text) and the guard's injection scan passed it; its
values then count as the user's. This is a union: one such result vouching for a value is
enough, whatever other results hold it (the participants of the event the task named, though
a flagged e-mail lists them too). The cost: an injection the guard misses inside a named source
is followed. A value seen in a result the guard flagged and nobody named stays refused unless
the user's own text or a named, passed result holds it. The guard's classifier also flags
benign bills and chat logs, so in a named but flagged source `sole` decides for identifiers
(IBAN, e-mail, URL) by a structural test: one that a *record* of it (a whole result, or one
item of a listing: a message of a channel, a file of a drive) holds as the only one of its kind
is that record's answer (a hit of the guard's attack-pattern rules still vetoes the source); an
injection that adds a competing identifier to the record makes it ambiguous, and neither is
endorsed. Other values of a flagged source (names) stay refused. Everything else from tool
output (look-ups nobody pointed at, others' messages fetched by a model-chosen query) stays
tainted. Operators can also vouch for named fields of a tool's structured output
(`trusted_fields`: the ledger's counterparty IBAN, which the bank writes, not the free-text
subject, which the counterparty writes; a chat message's sender, which the chat server stamps),
and those hold even in a result the classifier flagged: the flag is about the text beside them.

Values found nowhere (the model computed or chose them) pass: provenance refuses what an
injection can supply, not what the model derives. Matching is on whole tokens, case-folded, so
`10` is not traced by `100`; values under `min_chars` are too short to carry provenance.
"""

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from lmforge.agent.tools.base import Tool

KINDS = {
    "url": r"(?:https?://|www\.)[^\s\"'<>)\]]+",
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "iban": r"\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b",
}
IDENTIFIERS = re.compile("|".join(KINDS.values()), re.IGNORECASE)
_KIND = {k: re.compile(v, re.IGNORECASE) for k, v in KINDS.items()}
# origins a sensitive value may have and still be used
ACCEPTED = {"trusted", "endorsed", "none"}


def _norm(v: str) -> str:
    v = v.strip().casefold().rstrip(".,;:!?")
    return re.sub(r"^https?://", "", v).rstrip("/")


def _norm_text(text: str) -> str:
    return re.sub(r"https?://", "", text.casefold())


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


def _field_values(data: Any, fields: set[str]) -> Iterator[str]:
    """Values under the named keys anywhere in parsed structured output."""
    if isinstance(data, dict):
        for k, v in data.items():
            if k in fields:
                yield from _scalars(v)
            else:
                yield from _field_values(v, fields)
    elif isinstance(data, list):
        for v in data:
            yield from _field_values(v, fields)


def _parse(text: str) -> Any:
    """Tool output as JSON or YAML records; None when it is plain text."""
    for load in (json.loads, yaml.safe_load):
        try:
            return load(text)
        except (ValueError, yaml.YAMLError):
            continue
    return None


@dataclass(slots=True)
class Provenance:
    """Text seen in one run by trust level; `check` refuses tainted sensitive values."""

    trusted: list[str] = field(default_factory=list)
    endorsed: list[str] = field(default_factory=list)  # unflagged results the task pointed at
    untrusted: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)  # results the guard flagged
    pointed_flagged: list[str] = field(default_factory=list)  # flagged, yet the task named them
    records: list[str] = field(default_factory=list)  # records of the named sources (`sole`)
    sole: bool = False  # endorse an identifier that is the only one of its kind in its record
    min_chars: int = 2

    def trust(self, text: str) -> None:
        self.trusted.append(_norm_text(text))

    def observe(
        self,
        tool_output: str,
        *,
        pointed: bool = False,
        flagged: bool = False,
        certain: bool = False,
        trusted_fields: Iterable[str] = (),
    ) -> None:
        """Record one tool result: `pointed` (the task named its source), `flagged` (guard),
        `certain` (an attack pattern matched, not only the classifier: never a source)."""
        text = _norm_text(tool_output)
        data = _parse(tool_output)
        fields = set(trusted_fields)
        if fields:  # the system of record wrote them, whatever the text beside them says
            self.trusted += [_norm_text(v) for v in _field_values(data, fields)]
        if flagged or certain:
            (self.pointed_flagged if pointed and not certain else self.flagged).append(text)
        else:
            (self.endorsed if pointed else self.untrusted).append(text)
        if pointed and not certain:
            self.records += _records(data, text)

    def origin(self, value: str, vouched: Iterable[str] = ()) -> str:
        """'trusted', 'flagged', 'endorsed', 'ambiguous', 'tool' (only in output nobody named)
        or 'none' (nowhere)."""
        v = _norm(value)
        if len(v) < self.min_chars or v in {_norm(x) for x in vouched}:
            return "trusted"
        pat = re.compile(r"(?<![\w])" + re.escape(v) + r"(?![\w])")
        if any(pat.search(t) for t in self.trusted):
            return "trusted"
        if any(pat.search(t) for t in self.flagged):
            return "flagged"
        kind = next((k for k, r in _KIND.items() if r.fullmatch(v)), None) if self.sole else None
        named = self.endorsed + self.pointed_flagged
        if any(pat.search(t) for t in self.endorsed):  # a named source the guard passed
            return "endorsed"
        if kind is not None:  # identifiers: the record's ambiguity decides, not the classifier
            if self._sole(v, pat, kind):
                return "endorsed"
            if any(pat.search(t) for t in named):
                return "ambiguous"
        elif any(pat.search(t) for t in self.pointed_flagged):
            return "flagged"
        return "tool" if any(pat.search(t) for t in self.untrusted) else "none"

    def _sole(self, v: str, pat: re.Pattern[str], kind: str) -> bool:
        """Does some record of a source the task named hold `v` as the only identifier of its
        kind? Then it is *the* IBAN of the bill, *the* link of the chat message; a record
        offering several leaves the choice to whoever wrote it (an injection adds its own)."""
        return any(
            pat.search(t) and {_norm(m) for m in _KIND[kind].findall(t)} == {v}
            for t in self.records
        )

    def points(self, args: dict[str, Any], vouched: Iterable[str] = ()) -> bool:
        """Did the task point at this call's result? Its textual arguments (what it reads:
        file, channel, inbox, URL) all trace to trusted or endorsed text, and there is one;
        numbers (counts, limits) and values found nowhere name no source."""
        vouched = list(vouched)
        names = [s for s in _scalars(args) if len(_norm(s)) >= 3 and not _is_number(s)]
        return bool(names) and all(
            self.origin(s, vouched) in ("trusted", "endorsed") for s in names
        )

    def check(
        self,
        tool: Tool,
        args: dict[str, Any],
        vouched: Iterable[str] = (),
        endorse: bool = True,
    ) -> None:
        """Raise `Refused` if an effectful call's sensitive value came from untrusted output."""
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
            where = self.origin(value, vouched)
            if where in ACCEPTED and (endorse or where != "endorsed"):
                continue
            cause = {
                "flagged": "appears in tool output the guard flagged as injection",
                "endorsed": "appears only in tool output (endorsement off for this grant)",
                "tool": "appears only in tool output the task did not point at",
                "ambiguous": "is one of several of its kind in the output the task pointed at",
            }[where]
            raise Refused(
                f"argument {name!r} = {value[:80]!r} of {tool.name!r} {cause}, not in the task "
                "or the policy (untrusted provenance)"
            )


def _records(data: Any, text: str) -> list[str]:
    """The records of a result: the items of a list of objects (messages of a channel, e-mails
    of an inbox, files of a drive), each whole; any other result is one record."""
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        return [_norm_text(json.dumps(d, default=str)) for d in data]
    return [text]


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
