"""`python`: run code in the eval sandbox (time and memory limits, no network, no process
creation, a fresh temp dir that is deleted after). Only what the program prints comes back."""

from lmforge.agent.tools.base import Tool
from lmforge.eval.sandbox import Limits, run_python


def python_tool(timeout_s: float = 10.0, memory_mb: int = 512) -> Tool:
    limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb, file_mb=4, processes=4)

    def python(code: str) -> str:
        r = run_python(code, limits)
        out = r.stdout.strip()
        if r.status == "timeout":
            return f"{out}\n[timed out after {timeout_s:g} s]".strip()
        if r.status == "failed":
            err = r.stderr.strip().splitlines()[-1:] or [f"exit code {r.returncode}"]
            return f"{out}\n[error] {err[0]}".strip()
        return out or "(no output; print() what you need)"

    schema = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "Python 3 program; print() the answer."}
        },
        "required": ["code"],
    }
    return Tool("python", "Run a Python program and return what it prints.", schema, python)
