"""Least-privilege tool registry: a call that asks for more than declared is refused and logged."""

import json
from pathlib import Path

import pytest

from lmforge.guard.audit import AuditLog
from lmforge.guard.tools import ToolDenied, ToolRegistry, ToolSpec


@pytest.fixture
def registry(tmp_path: Path) -> tuple[ToolRegistry, Path]:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("hello")
    (tmp_path / "secret.txt").write_text("top secret")
    reg = ToolRegistry(AuditLog(tmp_path / "audit.jsonl"))
    reg.register(
        ToolSpec(
            "read_file",
            lambda path: Path(path).read_text(),
            frozenset({"read"}),
            roots=(root,),
            path_args=("path",),
        )
    )
    reg.register(
        ToolSpec(
            "fetch",
            lambda url: f"GET {url}",
            frozenset({"network"}),
            hosts=frozenset({"api.example.com"}),
            url_args=("url",),
        )
    )
    return reg, tmp_path


def test_allowed_calls_run(registry: tuple[ToolRegistry, Path]) -> None:
    reg, tmp = registry
    assert reg.call("read_file", path=str(tmp / "docs" / "a.txt")) == "hello"
    assert reg.call("fetch", frozenset({"network"}), url="https://api.example.com/x") == (
        "GET https://api.example.com/x"
    )


@pytest.mark.parametrize(
    ("tool", "effects", "args", "why"),
    [
        ("read_file", frozenset(), {"path": "{tmp}/secret.txt"}, "outside its roots"),
        ("read_file", frozenset(), {"path": "{tmp}/docs/../secret.txt"}, "outside its roots"),
        ("read_file", frozenset({"write"}), {"path": "{tmp}/docs/a.txt"}, "may not write"),
        ("fetch", frozenset(), {"url": "https://evil.example.net/x"}, "not allowed"),
        ("shell", frozenset(), {}, "unknown tool"),
    ],
)
def test_overreaching_calls_are_refused_and_logged(registry, tool, effects, args, why) -> None:
    reg, tmp = registry
    args = {k: v.format(tmp=tmp) for k, v in args.items()}
    with pytest.raises(ToolDenied, match=why):
        reg.call(tool, effects, **args)
    last = json.loads((tmp / "audit.jsonl").read_text().splitlines()[-1])
    assert last["action"] == "block" and why in last["reason"] and last["tool"] == tool


def test_symlink_cannot_escape_root(registry: tuple[ToolRegistry, Path]) -> None:
    reg, tmp = registry
    (tmp / "docs" / "link.txt").symlink_to(tmp / "secret.txt")
    with pytest.raises(ToolDenied):
        reg.call("read_file", path=str(tmp / "docs" / "link.txt"))
