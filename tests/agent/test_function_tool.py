"""Custom tools from Python functions: schema from the signature and the docstring."""

from typing import Literal

import pytest

from lmforge.agent.tools import ToolError, function_tool


def convert(amount: float, unit: Literal["km", "mi"] = "km", digits: int = 2) -> str:
    """Convert a distance.

    Args:
        amount: how far, in the other unit.
        unit: the unit to convert to.
        digits: decimals in the
            answer.
    """
    return f"{round(amount * (1.609 if unit == 'km' else 1 / 1.609), digits)} {unit}"


def test_schema_from_signature_and_docstring() -> None:
    t = function_tool(convert)
    assert t.name == "convert" and t.description == "Convert a distance."
    props = t.parameters["properties"]
    assert t.parameters["required"] == ["amount"]
    assert props["amount"] == {"type": "number", "description": "how far, in the other unit."}
    assert props["unit"]["enum"] == ["km", "mi"] and props["unit"]["default"] == "km"
    assert props["digits"]["description"] == "decimals in the answer."
    assert t.openai()["function"]["name"] == "convert"


def test_calls_are_validated() -> None:
    t = function_tool(convert)
    assert t.fn(amount=10) == "16.09 km"
    with pytest.raises(ToolError, match="unit"):
        t.fn(amount=1, unit="parsec")


def test_var_args_are_rejected() -> None:
    def f(*xs: int) -> int:
        return sum(xs)

    with pytest.raises(TypeError, match="args"):
        function_tool(f)
