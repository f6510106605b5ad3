"""The run's record: `trace.jsonl` (every step) and `audit.jsonl` (every refused call).

Each event is one JSON line written with one `write` on an O_APPEND file and flushed at once,
so a run killed mid-step leaves a readable trace up to its last event. A `Printer` (rich) shows
the same events as they happen.
"""

import json
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

EVENTS = (
    "start",
    "model",
    "tool_call",
    "tool_result",
    "refused",
    "answer",
    "stop",
    "route",
    "repeat",
)


class Trace:
    def __init__(self, run_dir: Path | None, printer: "Printer | None" = None) -> None:
        self.run_dir, self.printer = run_dir, printer
        self.t0 = time.perf_counter()
        self.events: list[dict[str, Any]] = []
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)

    def _append(self, name: str, rec: dict[str, Any]) -> None:
        if self.run_dir is None:
            return
        line = (json.dumps(rec, ensure_ascii=False, default=str) + "\n").encode()
        fd = os.open(self.run_dir / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        assert kind in EVENTS, kind
        rec = {"t": round(time.perf_counter() - self.t0, 4), "event": kind, **fields}
        self.events.append(rec)
        self._append("trace.jsonl", rec)
        if kind == "refused":
            self._append("audit.jsonl", {"ts": round(time.time(), 3), **rec})
        if self.printer is not None:
            self.printer.show(rec)
        return rec


def _short(v: Any, n: int = 160) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    s = s.replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


class Printer:
    """One line per event on the terminal (also when stdout is not one)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    def show(self, e: dict[str, Any]) -> None:
        k, t = e["event"], f"[dim]{e['t']:7.2f}s[/]"
        if k == "model":
            calls = ", ".join(c["name"] for c in e.get("tool_calls", [])) or "-"
            msg = f"step {e['step']} model: {e['tokens']} tokens, calls {calls}"
        elif k == "tool_call":
            msg = f"  [cyan]{e['name']}[/] {escape(_short(e['arguments']))}"
        elif k == "tool_result":
            mark = "" if e["treatment"] == "pass" else f" [yellow]({e['treatment']})[/]"
            msg = f"  -> {escape(_short(e['content']))}{mark} [dim]{e['seconds']}s[/]"
        elif k == "refused":
            msg = f"  [red]refused {e['name']}[/]: {escape(e['cause'])}"
        elif k == "answer":
            msg = f"[bold green]answer:[/] {escape(e['content'])}"
        elif k == "route":
            msg = f"route -> [bold]{e['agent']}[/] ({escape(e['why'])})"
        elif k == "stop":
            msg = f"[bold]stop[/]: {e['reason']} after {e['steps']} steps, {e['tokens']} tokens"
        else:
            msg = f"task: {escape(_short(e.get('task', ''), 200))}"
        self.console.print(f"{t} {msg}", highlight=False, soft_wrap=True)
