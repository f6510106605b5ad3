"""The structured-output benchmarks' own pieces: the schema suite and BFCL's conversions."""

import sys
from pathlib import Path

import jsonschema
import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import bfcl
from lmforge.engine import LLMEngine, SamplingParams
from structured_schemas import suite


def test_suite_has_200_distinct_valid_schemas_that_compile(tiny_llama_engine: LLMEngine) -> None:
    schemas = suite()
    assert len(schemas) >= 200
    assert len({repr(s) for _, s, _ in schemas}) == len(schemas)  # seeded variations, no copies
    text = repr(schemas)
    for feature in ("anyOf", "oneOf", "$ref", "enum", "format", "pattern", "minimum", "items"):
        assert feature in text
    for _, schema, _ in schemas:
        jsonschema.Draft202012Validator.check_schema(schema)
        tiny_llama_engine.constraints.compiler.compile(SamplingParams(json_schema=schema))


def test_bfcl_schema_mapping_and_free_text_parsing() -> None:
    got = bfcl.to_schema(
        {
            "type": "dict",
            "properties": {
                "x": {"type": "float"},
                "t": {"type": "tuple", "items": {"type": "any"}},
            },
        }
    )
    assert got == {
        "type": "object",
        "properties": {"x": {"type": "number"}, "t": {"type": "array", "items": {}}},
    }
    assert bfcl.wire("math.factorial") == "math_factorial"
    assert bfcl.parse_text('<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>') == [
        ("f", {"a": 1})
    ]
    assert bfcl.parse_text('Call: {"name": "g", "parameters": {"b": [1, 2]}} done') == [
        ("g", {"b": [1, 2]})
    ]
    assert bfcl.parse_text("math.hypot(x=4, y=5)") == [("math.hypot", {"x": 4, "y": 5})]
    assert bfcl.parse_text("The area is 25.") is None


@pytest.mark.parametrize("bad", ["{", "f(1, 2)", '{"name": 3}'])
def test_bfcl_unparsable_replies(bad: str) -> None:
    assert bfcl.parse_text(bad) is None
