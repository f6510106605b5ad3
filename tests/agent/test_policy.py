"""Deny by default, argument constraints, and a policy nothing can widen."""

import json
import os
from pathlib import Path

import pytest

from lmforge.agent.config import Grant
from lmforge.agent.policy import Policy, Refused
from lmforge.agent.tools.files import files_tool
from lmforge.agent.tools.function import function_tool
from lmforge.agent.tools.http_get import http_get_tool
from lmforge.agent.tools.sql import sql_tool


def test_ungranted_tools_are_hidden_and_refused(tmp_path: Path) -> None:
    tools = {"files": files_tool(tmp_path), "echo": function_tool(lambda x: x, name="echo")}
    p = Policy.build({"echo": Grant()}, tmp_path)
    assert [t.name for t in p.visible(tools)] == ["echo"]
    with pytest.raises(Refused, match="not granted"):
        p.check(tools["files"], "files", json.dumps({"op": "list", "path": "."}))
    with pytest.raises(Refused, match="not granted"):
        p.check(None, "rm_rf", "{}")


def test_paths_must_stay_under_granted_prefixes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "notes").mkdir(parents=True)
    (ws / "secret").mkdir()
    os.symlink("/etc", ws / "notes" / "link")
    t = files_tool(ws)
    p = Policy.build({"files": Grant(paths=["notes"])}, ws)
    assert p.check(t, "files", '{"op": "read", "path": "notes/a.txt"}')["path"] == "notes/a.txt"
    for bad in ("secret/x", "../x", "/etc/passwd", "notes/../secret/x", "notes/link/passwd"):
        with pytest.raises(Refused, match="outside the allowed prefixes"):
            p.check(t, "files", json.dumps({"op": "read", "path": bad}))
    # a grant prefix that itself escapes the workspace allows nothing
    p2 = Policy.build({"files": Grant(paths=["../"])}, ws)
    with pytest.raises(Refused):
        p2.check(t, "files", json.dumps({"op": "read", "path": "../x"}))


def test_writes_need_a_write_grant(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "d.db"
    con = sqlite3.connect(db)
    con.execute("create table t (x int)")
    con.commit()
    con.close()
    tools = {"sql": sql_tool(db), "files": files_tool(tmp_path)}
    ro = Policy.build({"sql": Grant(), "files": Grant()}, tmp_path)
    assert ro.check(tools["sql"], "sql", '{"query": "select * from t"}')
    for q in ("insert into t values (1)", "drop table t", "delete from t"):
        with pytest.raises(Refused, match="read-only"):
            ro.check(tools["sql"], "sql", json.dumps({"query": q}))
    with pytest.raises(Refused, match="read-only"):
        ro.check(tools["files"], "files", '{"op": "write", "path": "a", "content": "x"}')
    rw = Policy.build({"sql": Grant(write=True)}, tmp_path)
    args = rw.check(tools["sql"], "sql", '{"query": "insert into t values (1)"}')
    assert rw.needs_confirmation(tools["sql"], args)  # confirm_writes defaults on


def test_hosts_sizes_and_bad_json(tmp_path: Path) -> None:
    t = http_get_tool(["example.org"])
    p = Policy.build({"http_get": Grant(hosts=["example.org"], max_arg_chars=100)}, tmp_path)
    assert p.check(t, "http_get", '{"url": "https://example.org/a"}')
    for url in ("https://evil.com/", "https://example.org.evil.com/", "http://127.0.0.1/"):
        with pytest.raises(Refused, match="not allowed"):
            p.check(t, "http_get", json.dumps({"url": url}))
    with pytest.raises(Refused, match="over 100"):
        p.check(t, "http_get", json.dumps({"url": "https://example.org/" + "a" * 200}))
    with pytest.raises(Refused, match="not JSON"):
        p.check(t, "http_get", "{url:")


def test_the_policy_is_read_only(tmp_path: Path) -> None:
    p = Policy.build({"echo": Grant()}, tmp_path)
    with pytest.raises(TypeError):
        p.grants["files"] = Grant()  # type: ignore[index]
    with pytest.raises(AttributeError):
        p.grants = {}  # type: ignore[misc]
