"""Shared CLI plumbing: the console, and the stub for stages that are not built yet."""

from collections.abc import Callable

import typer
from rich.console import Console

from lmforge.errors import StageUnavailableError

console = Console()
err_console = Console(stderr=True)


def unavailable(stage: str, issue: int) -> Callable[..., None]:
    """A command that says plainly that `stage` is not available yet, and exits non-zero."""

    def command(ctx: typer.Context) -> None:
        raise StageUnavailableError(
            f"the '{stage}' stage is not available yet in this version of lmforge "
            f"(tracked in issue #{issue}); see README.md for the stages that are"
        )

    command.__name__ = f"{stage}_unavailable"
    return command
