"""`Tool`: a name, a JSON schema for its arguments, a function, and what its arguments mean.

The argument roles (`path_args`, `url_args`, `sql_args`, `sensitive_args`, `text_args`) tell
the policy which arguments to check against the grant (and the run's provenance); the tool
cannot under-declare them at call time, because the policy reads the values from the call the
model made, not from anything the tool says.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True, frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    fn: Callable[..., Any]
    path_args: tuple[str, ...] = ()
    url_args: tuple[str, ...] = ()
    sql_args: tuple[str, ...] = ()
    writes: Callable[[dict[str, Any]], bool] | None = None  # does this call write?
    # values that decide where an effect lands: must trace to the task (see provenance.py)
    sensitive_args: tuple[str, ...] = ()
    text_args: tuple[str, ...] = ()  # free text (message bodies): embedded URLs/IBANs traced
    effect: Callable[[dict[str, Any]], bool] | None = None  # acts on the world? default: writes

    def __post_init__(self) -> None:
        assert self.parameters.get("type") == "object", f"{self.name}: schema must be an object"

    def openai(self) -> dict[str, Any]:
        """The tool as the OpenAI `tools` array holds it."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def is_write(self, args: dict[str, Any]) -> bool:
        return bool(self.writes and self.writes(args))

    def has_effect(self, args: dict[str, Any]) -> bool:
        """Sends, writes or fetches: the calls whose sensitive arguments need provenance."""
        return self.effect(args) if self.effect else self.is_write(args)


class ToolError(Exception):
    """A tool refused or failed in a way the model should read (it becomes the tool result)."""
