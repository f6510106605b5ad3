"""Least privilege: which tools an agent sees and may call, and with which arguments.

Deny by default: a tool without a grant is not shown to the model, and a call to it is refused.
A grant constrains arguments by what they are (the tool declares which arguments are paths,
URLs or SQL): paths must resolve under one of the grant's prefixes inside the workspace, URLs
must name an allowed host, SQL and file writes need `write: true`, and arguments have a size cap.
Where argument *values* come from is the run's business, not the grant's: see provenance.py.

The policy is fixed when the agent is built (a read-only mapping in a frozen object) and the
loop only ever reads it: nothing a tool returns, or the model says, can widen it.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from lmforge.agent.config import Grant
from lmforge.agent.tools.base import Tool


class Refused(Exception):
    """A call the policy does not allow; the message is the cause written to the audit log."""


@dataclass(slots=True, frozen=True)
class Policy:
    grants: Mapping[str, Grant]
    workspace: Path

    @classmethod
    def build(cls, grants: Mapping[str, Grant], workspace: Path) -> "Policy":
        frozen = {k: g.model_copy(deep=True) for k, g in grants.items()}
        return cls(MappingProxyType(frozen), workspace.resolve())

    def visible(self, tools: Mapping[str, Tool]) -> list[Tool]:
        """The tools the model is shown: those granted, nothing else."""
        return [t for name, t in tools.items() if name in self.grants]

    def check(self, tool: Tool | None, name: str, raw_args: str) -> dict[str, Any]:
        """The parsed arguments of an allowed call; `Refused` with the cause otherwise."""
        grant = self.grants.get(name)
        if grant is None:
            raise Refused(f"tool {name!r} is not granted to this agent")
        if tool is None:
            raise Refused(f"tool {name!r} does not exist")
        if len(raw_args) > grant.max_arg_chars:
            raise Refused(f"arguments are {len(raw_args)} chars, over {grant.max_arg_chars}")
        try:
            args = json.loads(raw_args or "{}")
        except json.JSONDecodeError as e:
            raise Refused(f"arguments are not JSON ({e.msg})") from None
        if not isinstance(args, dict):
            raise Refused("arguments must be a JSON object")
        for a in tool.path_args:
            if a in args:
                self._check_path(str(args[a]), grant)
        for a in tool.url_args:
            if a in args:
                host = urlsplit(str(args[a])).hostname or ""
                if host not in grant.hosts:
                    raise Refused(f"host {host!r} is not allowed (grant: {grant.hosts})")
        if tool.is_write(args) and not grant.write:
            raise Refused(f"tool {name!r} is read-only for this agent (grant write: false)")
        return args

    def _check_path(self, rel: str, grant: Grant) -> None:
        p = (self.workspace / rel).resolve()
        for prefix in grant.paths:
            root = (self.workspace / prefix).resolve()
            if (p == root or root in p.parents) and (
                root == self.workspace or self.workspace in root.parents
            ):
                return
        raise Refused(f"path {rel!r} is outside the allowed prefixes {grant.paths}")

    def needs_confirmation(self, tool: Tool, args: dict[str, Any]) -> bool:
        g = self.grants[tool.name]
        return g.confirm or (g.confirm_writes and tool.is_write(args))
