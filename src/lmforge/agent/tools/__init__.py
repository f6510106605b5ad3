"""Built-in tools, tools from Python functions, and tools from MCP servers."""

from lmforge.agent.tools.base import Tool, ToolError
from lmforge.agent.tools.function import function_tool

__all__ = ["Tool", "ToolError", "function_tool"]
