"""Run one tool call with a time limit; whatever the tool does, the loop gets a string back.

A Python thread cannot be killed, so a call past its limit is abandoned (its daemon thread is
left to finish or hang) and the model is told it timed out; tools that run code (python, MCP)
have their own hard limits in their own processes.
"""

import threading
import time
from dataclasses import dataclass
from typing import Any

from lmforge.agent.tools.base import Tool, ToolError


@dataclass(slots=True, frozen=True)
class Outcome:
    text: str
    ok: bool
    seconds: float
    error: str = ""


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    import json

    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def execute(tool: Tool, args: dict[str, Any], timeout_s: float) -> Outcome:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = tool.fn(**args)
        except ToolError as e:
            box["error"] = str(e)
        except TypeError as e:
            box["error"] = f"bad arguments: {e}"
        except Exception as e:  # a failing tool is a result the model reads, not a crash
            box["error"] = f"{type(e).__name__}: {e}"

    t0 = time.perf_counter()
    th = threading.Thread(target=target, daemon=True, name=f"tool-{tool.name}")
    th.start()
    th.join(timeout_s)
    dt = round(time.perf_counter() - t0, 4)
    if th.is_alive():
        return Outcome(f"[error] tool timed out after {timeout_s:g} s", False, dt, "timeout")
    if "error" in box:
        return Outcome(f"[error] {box['error']}", False, dt, box["error"])
    return Outcome(_as_text(box.get("value")), True, dt)
