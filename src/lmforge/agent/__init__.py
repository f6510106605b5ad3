"""Agents: tool-using workflows over the OpenAI API with least privilege and a guard on every
tool result. `from lmforge.agent import Agent`; `lmforge agent run -c agent.yaml "task"`."""

from lmforge.agent.config import AgentConfig, AgentFile, Grant
from lmforge.agent.policy import Policy, Refused
from lmforge.agent.runtime import Agent, AgentResult
from lmforge.agent.tools import Tool, ToolError, function_tool

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentFile",
    "AgentResult",
    "Grant",
    "Policy",
    "Refused",
    "Tool",
    "ToolError",
    "function_tool",
]
