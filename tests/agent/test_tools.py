"""The built-in tools enforce their own limits too (defence in depth, past the policy)."""

import sqlite3
from pathlib import Path

import pytest

from lmforge.agent.tools import ToolError
from lmforge.agent.tools.files import files_tool
from lmforge.agent.tools.http_get import check_url
from lmforge.agent.tools.python import python_tool
from lmforge.agent.tools.sql import sql_tool


def test_sql_is_read_only_in_sqlite_itself(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    con = sqlite3.connect(db)
    con.execute("create table t (x int)")
    con.execute("insert into t values (7)")
    con.commit()
    con.close()
    t = sql_tool(db)
    assert t.fn(query="select x from t") == "x\n7"
    for q in ("insert into t values (1)", "drop table t", "attach 'other.db' as o"):
        with pytest.raises(ToolError):
            t.fn(query=q)
    assert sql_tool(db, write=True).fn(query="insert into t values (1)") == "ok (1 rows changed)"


def test_files_stay_in_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    t = files_tool(ws)
    assert t.fn(op="write", path="a/b.txt", content="hi").startswith("wrote 2")
    assert t.fn(op="read", path="a/b.txt") == "hi" and t.fn(op="list", path="a") == "b.txt"
    for bad in ("../x", "/etc/passwd", "a/../../x"):
        with pytest.raises(ToolError, match="escapes the workspace"):
            t.fn(op="read", path=bad)


def test_urls_and_python_sandbox() -> None:
    check_url("https://docs.example.org/x", {"docs.example.org"})
    for bad in ("file:///etc/passwd", "https://user:pw@docs.example.org/", "https://evil.org/"):
        with pytest.raises(ToolError):
            check_url(bad, {"docs.example.org"})
    py = python_tool(timeout_s=5)
    assert py.fn(code="print(2 ** 10)") == "1024"
    assert "[error]" in py.fn(code="import socket; socket.socket()")
