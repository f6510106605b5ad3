"""A Python function as a tool: the schema from its signature, descriptions from its docstring.

    def add(a: int, b: int = 0) -> int:
        '''Add two numbers.

        Args:
            a: the first number.
            b: the second number.
        '''

`function_tool(add)` gives a tool named `add` whose schema has `a` (required integer) and `b`
(integer, default 0), each with the text of its Args line. pydantic builds the schema, so any
annotation pydantic knows (Literal, lists, nested models) works, and validates the call.
"""

import inspect
import re
from collections.abc import Callable
from typing import Any

from pydantic import Field, TypeAdapter, ValidationError, create_model

from lmforge.agent.tools.base import Tool, ToolError

_ARG = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(summary, {arg: description}) from a Google-style docstring (`Args:` section)."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    section, last = None, None
    for line in lines:
        head = line.strip().rstrip(":").lower()
        if line.strip().endswith(":") and head in ("args", "arguments", "parameters", "returns"):
            section = head
            continue
        if section is None:
            summary.append(line)
        elif section != "returns" and (m := _ARG.match(line)) and not line.startswith("     "):
            last = m.group(1).lstrip("*")
            args[last] = m.group(2).strip()
        elif section != "returns" and last and line.strip():
            args[last] += " " + line.strip()
    return " ".join(s.strip() for s in summary if s.strip()), args


def function_tool(fn: Callable[..., Any], name: str | None = None, **roles: Any) -> Tool:
    """Wrap `fn` as a Tool; `roles` are Tool's path_args/url_args/sql_args/writes."""
    summary, docs = parse_docstring(fn.__doc__)
    fields: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{fn.__name__}: *args/**kwargs cannot become a tool schema")
        ann = Any if p.annotation is inspect.Parameter.empty else p.annotation
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (ann, Field(default, description=docs.get(p.name)))
    model = create_model(f"{fn.__name__}_args", **fields)
    schema = TypeAdapter(model).json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)

    def call(**kwargs: Any) -> Any:
        try:
            args = model.model_validate(kwargs)
        except ValidationError as e:
            err = e.errors()[0]
            raise ToolError(f"bad arguments: {err['loc']}: {err['msg']}") from None
        return fn(**{k: getattr(args, k) for k in fields})

    return Tool(name or fn.__name__, summary or fn.__name__, schema, call, **roles)
