"""Shared CLI plumbing: the consoles every command prints to."""

from rich.console import Console

console = Console()
err_console = Console(stderr=True)
