"""Build an agent's tools: the built-ins it lists (only those it is granted: an ungranted tool
could never be called, so it is not even loaded), its own Python functions, its MCP servers."""

from collections.abc import Callable, Sequence
from typing import Any

from lmforge.agent.config import AgentConfig
from lmforge.agent.tools.base import Tool
from lmforge.agent.tools.function import function_tool
from lmforge.errors import ConfigError


def _builtin(name: str, cfg: AgentConfig) -> Tool:
    g = cfg.policy[name]
    if name == "python":
        from lmforge.agent.tools.python import python_tool

        return python_tool(timeout_s=min(g.timeout_s, 10.0))
    if name == "files":
        from lmforge.agent.tools.files import files_tool

        return files_tool(cfg.workspace)
    if name == "http_get":
        from lmforge.agent.tools.http_get import http_get_tool

        return http_get_tool(g.hosts, max_bytes=g.max_result_chars * 4)
    if name == "sql":
        from lmforge.agent.tools.sql import sql_tool

        if cfg.database is None:
            raise ConfigError("agent: tool 'sql' needs `database:` (a SQLite file)")
        return sql_tool(cfg.database, write=g.write)
    assert name == "retrieve", name
    from lmforge.agent.tools.retrieve import retrieve_tool

    if cfg.index is None:
        raise ConfigError("agent: tool 'retrieve' needs `index:` (a RAG config YAML or index dir)")
    return retrieve_tool(cfg.index)


def build_tools(
    cfg: AgentConfig, custom: Sequence[Tool | Callable[..., Any]] = ()
) -> tuple[dict[str, Tool], list[Any]]:
    tools: dict[str, Tool] = {}

    def add(t: Tool) -> None:
        if t.name in tools:
            raise ConfigError(f"agent: two tools are named {t.name!r}; rename one")
        tools[t.name] = t

    for name in cfg.tools:
        if name in cfg.policy:
            add(_builtin(name, cfg))
    for t in custom:
        add(t if isinstance(t, Tool) else function_tool(t))
    servers: list[Any] = []
    if cfg.mcp:
        from lmforge.agent.tools.mcp import MCPServer

        for sc in cfg.mcp:
            srv = MCPServer(sc)
            servers.append(srv)
            for t in srv.tools():
                add(t)
    return tools, servers
