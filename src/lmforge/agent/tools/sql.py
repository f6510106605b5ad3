"""`sql`: query a SQLite file; read-only unless the grant says `write: true`.

Read-only is enforced by SQLite, twice: the file is opened `mode=ro`, and an authorizer refuses
every action that is not a read, so a write fails even through ATTACH or a pragma.
"""

import contextlib
import sqlite3
from pathlib import Path

from lmforge.agent.tools.base import Tool, ToolError

_READS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}


def is_write_sql(database: Path, query: str) -> bool:
    """Does `query` write? Asked of SQLite itself: the statement is prepared (EXPLAIN, never
    run) on the real schema, read-only, and the authorizer records every action it needs."""
    if not database.is_file():
        return True
    con = sqlite3.connect(f"file:{database.resolve()}?mode=ro", uri=True)
    seen: list[int] = []

    def auth(action: int, *_: object) -> int:
        seen.append(action)
        return sqlite3.SQLITE_OK if action in _READS else sqlite3.SQLITE_DENY

    con.set_authorizer(auth)
    with contextlib.suppress(sqlite3.Error):
        con.execute(f"EXPLAIN {query}")
    con.close()
    return any(a not in _READS for a in seen)


def sql_tool(database: Path, write: bool = False, max_rows: int = 200) -> Tool:
    if not database.is_file() and not write:
        raise ToolError(f"sql: database {database} not found (set `database:` in agent.yaml)")

    def sql(query: str) -> str:
        uri = f"file:{database.resolve()}?mode={'rwc' if write else 'ro'}"
        con = sqlite3.connect(uri, uri=True, timeout=5)
        if not write:
            con.set_authorizer(
                lambda a, *_: sqlite3.SQLITE_OK if a in _READS else sqlite3.SQLITE_DENY
            )
        try:
            cur = con.execute(query)
            rows = cur.fetchmany(max_rows + 1)
            con.commit()
        except sqlite3.Error as e:
            raise ToolError(f"sqlite: {e}") from None
        finally:
            con.close()
        if cur.description is None:
            return f"ok ({cur.rowcount} rows changed)"
        cols = [d[0] for d in cur.description]
        lines = [" | ".join(cols)] + [" | ".join(map(str, r)) for r in rows[:max_rows]]
        return "\n".join(lines) + ("\n[cut]" if len(rows) > max_rows else "")

    schema = {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "One SQLite statement."}},
        "required": ["query"],
    }
    return Tool(
        "sql",
        "Run one SQL statement on the SQLite database." + ("" if write else " Read-only."),
        schema,
        sql,
        sql_args=("query",),
        writes=lambda a: is_write_sql(database, str(a.get("query", ""))),
    )
