"""`files`: read, write and list inside one workspace folder.

Every path is resolved (so `..` and symlinks are followed) and must land inside the workspace;
anything else is refused here, whatever the policy allowed (defence in depth).
"""

import os
import tempfile
from pathlib import Path
from typing import Any

from lmforge.agent.tools.base import Tool, ToolError


def inside(root: Path, rel: str) -> Path:
    """`rel` resolved under `root`, or ToolError if it escapes."""
    root = root.resolve()
    p = (root / rel).resolve()
    if p != root and root not in p.parents:
        raise ToolError(f"path {rel!r} escapes the workspace")
    return p


def files_tool(workspace: Path, max_read: int = 1 << 20) -> Tool:
    workspace.mkdir(parents=True, exist_ok=True)

    def files(op: str, path: str = ".", content: str | None = None) -> str:
        p = inside(workspace, path)
        if op == "list":
            if not p.is_dir():
                raise ToolError(f"{path!r} is not a folder")
            names = sorted(q.name + ("/" if q.is_dir() else "") for q in p.iterdir())
            return "\n".join(names) or "(empty)"
        if op == "read":
            if not p.is_file():
                raise ToolError(f"no file {path!r}")
            with p.open("rb") as f:
                data = f.read(max_read + 1)
            text = data[:max_read].decode("utf-8", "replace")
            return text + ("\n[cut: file is longer]" if len(data) > max_read else "")
        if op == "write":
            if content is None:
                raise ToolError("write needs `content`")
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(content)
            os.replace(tmp, p)
            return f"wrote {len(content)} characters to {path}"
        raise ToolError(f"op {op!r}: use read, write or list")

    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "op": {"enum": ["read", "write", "list"]},
            "path": {"type": "string", "description": "Relative to the workspace."},
            "content": {"type": "string", "description": "Text to write (op=write)."},
        },
        "required": ["op", "path"],
    }
    return Tool(
        "files",
        "Read, write or list files in the workspace folder.",
        schema,
        files,
        path_args=("path",),
        writes=lambda a: a.get("op") == "write",
        sensitive_args=("path",),
    )
