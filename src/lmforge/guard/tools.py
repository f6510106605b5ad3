"""Least privilege for tools and agents: each tool declares what it may touch.

A `ToolSpec` names the arguments that are file paths or URLs and the roots, hosts and side
effects the tool is allowed. The registry reads the resources from the actual call arguments
(the caller cannot under-declare them), resolves paths (so `..` and symlinks cannot escape a
root) and refuses, and logs, any call that asks for more than the tool declared.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from lmforge.errors import LMForgeError
from lmforge.guard.audit import AuditLog

Effect = Literal["read", "write", "network", "exec"]


class ToolDenied(LMForgeError):
    """A tool call asked for a path, host or side effect its tool did not declare."""


@dataclass(slots=True)
class ToolSpec:
    name: str
    fn: Callable[..., Any]
    effects: frozenset[str] = frozenset()  # what the tool does: read/write/network/exec
    roots: tuple[Path, ...] = ()  # directories its path arguments must stay inside
    hosts: frozenset[str] = frozenset()  # hosts its URL arguments may reach
    path_args: tuple[str, ...] = ()
    url_args: tuple[str, ...] = ()
    roots_resolved: tuple[Path, ...] = field(init=False)

    def __post_init__(self) -> None:
        assert self.effects <= {"read", "write", "network", "exec"}, self.effects
        assert not self.path_args or self.roots, f"{self.name}: path arguments need allowed roots"
        assert not self.url_args or self.hosts, f"{self.name}: URL arguments need allowed hosts"
        self.roots_resolved = tuple(Path(r).resolve() for r in self.roots)


class ToolRegistry:
    def __init__(self, audit: AuditLog | None = None) -> None:
        self.tools: dict[str, ToolSpec] = {}
        self.audit = audit

    def register(self, spec: ToolSpec) -> ToolSpec:
        assert spec.name not in self.tools, f"tool {spec.name!r} registered twice"
        self.tools[spec.name] = spec
        return spec

    def check(
        self, name: str, args: Mapping[str, Any], effects: frozenset[str] = frozenset()
    ) -> None:
        """Raise ToolDenied if this call needs more than the tool declared."""
        spec = self.tools.get(name)
        if spec is None:
            raise ToolDenied(
                f"unknown tool {name!r}; registered: {', '.join(sorted(self.tools)) or 'none'}"
            )
        if extra := set(effects) - spec.effects:
            raise ToolDenied(
                f"tool {name!r} may not {', '.join(sorted(extra))} (has {sorted(spec.effects)})"
            )
        for a in spec.path_args:
            if a in args:
                p = Path(str(args[a])).resolve()
                if not any(p == r or r in p.parents for r in spec.roots_resolved):
                    roots = ", ".join(map(str, spec.roots_resolved))
                    raise ToolDenied(
                        f"tool {name!r}: path {args[a]!r} is outside its roots ({roots})"
                    )
        for a in spec.url_args:
            if a in args:
                host = urlsplit(str(args[a])).hostname or ""
                if host not in spec.hosts:
                    raise ToolDenied(
                        f"tool {name!r}: host {host!r} is not allowed (only {sorted(spec.hosts)})"
                    )

    def call(self, name: str, effects: frozenset[str] = frozenset(), /, **args: Any) -> Any:
        """Run a tool after `check`; every refusal and every call is logged."""
        try:
            self.check(name, args, effects)
        except ToolDenied as e:
            self._log(name, args, "block", str(e))
            raise
        self._log(name, args, "allow", "")
        return self.tools[name].fn(**args)

    def _log(self, name: str, args: Mapping[str, Any], action: str, reason: str) -> None:
        if self.audit is not None:
            self.audit.record(
                "tool",
                f"{name}:{sorted(args)}",
                None,
                tool=name,
                action=action,
                reason=reason,
                args={k: str(v)[:200] for k, v in args.items()},
            )
