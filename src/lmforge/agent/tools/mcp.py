"""Tools from an MCP server over stdio, through the `mcp` client library.

The session lives on an asyncio loop in one background thread, so the synchronous agent loop
calls `MCPServer.call` like any function. Discovered tools are named `<server>__<tool>` and get
no privilege of their own: the policy must grant each one by that name, like a built-in.
"""

import asyncio
import contextlib
import threading
from typing import Any

from lmforge.agent.config import MCPServerConfig
from lmforge.agent.tools.base import Tool, ToolError
from lmforge.errors import LMForgeError
from lmforge.extras import require


class MCPServer:
    def __init__(self, cfg: MCPServerConfig, timeout_s: float = 30.0) -> None:
        require("agent", "mcp")
        self.cfg, self.timeout_s = cfg, timeout_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._stack = contextlib.AsyncExitStack()
        try:
            self.specs: list[Any] = self._run(self._connect())
        except Exception as e:
            self.close()
            raise LMForgeError(f"mcp server {cfg.name!r} ({cfg.command}): {e}") from None

    def _run(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout or self.timeout_s)

    async def _connect(self) -> list[Any]:
        from mcp import ClientSession, StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=self.cfg.command, args=self.cfg.args, env=self.cfg.env
        )
        read, write = await self._stack.enter_async_context(stdio_client(params))
        self.session = await self._stack.enter_async_context(ClientSession(read, write))
        await self.session.initialize()
        return list((await self.session.list_tools()).tools)

    def call(self, tool: str, args: dict[str, Any]) -> str:
        r = self._run(self.session.call_tool(tool, args))
        text = "\n".join(getattr(c, "text", f"[{c.type} content]") for c in r.content)
        if r.is_error:
            raise ToolError(text or "the MCP tool failed")
        return text

    def tools(self) -> list[Tool]:
        out = []
        for s in self.specs:
            schema = dict(s.input_schema or {"type": "object"})
            schema.setdefault("type", "object")
            out.append(
                Tool(
                    f"{self.cfg.name}__{s.name}",
                    s.description or s.name,
                    schema,
                    lambda _n=s.name, **kw: self.call(_n, kw),
                )
            )
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self._stack.aclose(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
