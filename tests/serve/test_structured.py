"""Structured output and tool calling through the real openai client against a tiny server."""

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import jsonschema
import openai
import pytest
from pydantic import BaseModel, Field
from tests.serve.conftest import Running, start_server, tiny_cfg

from lmforge.models.tiny import make_tiny_model
from lmforge.serve.tools import call_grammar, chat_messages, scan_calls

SCHEMA = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "n": {"type": "integer", "minimum": 0, "maximum": 9},
        "kind": {"enum": ["cat", "dog"]},
    },
    "required": ["ok", "n", "kind"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "unit": {"enum": ["c", "f"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["unit", "days"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"utc": {"type": "boolean"}},
            "required": ["utc"],
        },
    },
}
MSGS = [{"role": "user", "content": "Weather in Paris for 3 days?"}]
RF = {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}}


@pytest.fixture(scope="module")
def long_server(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer) -> Iterator[Running]:
    """A tiny Llama with a 2048-token context: tool prompts are long under a 512-token vocab."""
    path: Path = make_tiny_model(
        "llama", tmp_path_factory.mktemp("tiny-long"), tiny_tokenizer, max_position_embeddings=2048
    )
    r = start_server(tiny_cfg(path, kv_cache_gb=0.05))
    yield r
    r.stop()


@pytest.fixture
def client(long_server: Running) -> openai.OpenAI:
    return long_server.client()


class Pet(BaseModel):
    kind: Literal["cat", "dog"]
    legs: int = Field(ge=0, le=8)
    vaccinated: bool


def test_response_format_json_schema_chat(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(
        model="tiny", messages=MSGS, response_format=RF, max_tokens=60, temperature=0.8, seed=3
    )
    c = out.choices[0]
    assert c.finish_reason == "stop"
    jsonschema.validate(json.loads(c.message.content), SCHEMA)


def test_response_format_on_completions(client: openai.OpenAI) -> None:
    for rf, check in (
        (RF, lambda v: jsonschema.validate(v, SCHEMA)),
        ({"type": "json_object"}, None),
    ):
        out = client.completions.create(
            model="tiny",
            prompt="JSON:",
            max_tokens=60,
            temperature=0,
            extra_body={"response_format": rf},
        )
        c = out.choices[0]
        assert c.text.startswith("{")
        if c.finish_reason == "stop":
            value = json.loads(c.text)
            assert isinstance(value, dict)
            if check:
                check(value)


@pytest.mark.parametrize("api", ["chat", "beta"])
def test_parse_with_pydantic_model(client: openai.OpenAI, api: str) -> None:
    completions = client.chat.completions if api == "chat" else client.beta.chat.completions
    out = completions.parse(
        model="tiny", messages=MSGS, response_format=Pet, max_tokens=60, temperature=0
    )
    parsed = out.choices[0].message.parsed
    assert isinstance(parsed, Pet)
    assert Pet.model_validate_json(out.choices[0].message.content) == parsed


def check_calls(message, allowed: dict[str, dict]) -> None:
    assert message.content is None and message.tool_calls
    for call in message.tool_calls:
        assert call.id.startswith("call_") and call.type == "function"
        assert call.function.name in allowed
        jsonschema.validate(json.loads(call.function.arguments), allowed[call.function.name])


TOOLS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, TIME)}


@pytest.mark.parametrize("parallel", [False, True])
def test_tool_choice_required(client: openai.OpenAI, parallel: bool) -> None:
    out = client.chat.completions.create(
        model="tiny",
        messages=MSGS,
        tools=[WEATHER, TIME],
        tool_choice="required",
        parallel_tool_calls=parallel,
        max_tokens=200,
        temperature=0,
    )
    c = out.choices[0]
    check_calls(c.message, TOOLS)
    if not parallel:
        assert len(c.message.tool_calls) == 1 and c.finish_reason == "tool_calls"


def test_named_tool_choice(client: openai.OpenAI) -> None:
    named = {"type": "function", "function": {"name": "get_time"}}
    for seed in range(3):
        out = client.chat.completions.create(
            model="tiny",
            messages=MSGS,
            tools=[WEATHER, TIME],
            tool_choice=named,
            parallel_tool_calls=False,
            max_tokens=60,
            temperature=1,
            seed=seed,
        )
        c = out.choices[0]
        assert c.finish_reason == "tool_calls"
        check_calls(c.message, {"get_time": TOOLS["get_time"]})


def test_auto_is_text_or_constrained_call(client: openai.OpenAI) -> None:
    kinds = set()
    for seed in range(6):
        out = client.chat.completions.create(
            model="tiny",
            messages=MSGS,
            tools=[WEATHER],
            tool_choice="auto",
            max_tokens=40,
            temperature=1.5,
            seed=seed,
            parallel_tool_calls=False,
        )
        m = out.choices[0].message
        if m.tool_calls:
            kinds.add("call")
            check_calls(m, TOOLS)
        else:
            kinds.add("text")
            assert not m.content.startswith("<")
    assert kinds


@pytest.mark.parametrize(
    "kw",
    [
        {"tools": [WEATHER, TIME], "tool_choice": "required", "parallel_tool_calls": True},
        {"response_format": RF},
    ],
    ids=["tools", "json"],
)
def test_stream_reassembles_to_the_same_answer(client: openai.OpenAI, kw: dict) -> None:
    args = {"model": "tiny", "messages": MSGS, "max_tokens": 120, "temperature": 0.7, "seed": 11}
    whole = client.chat.completions.create(**args, **kw).choices[0]
    calls: dict[int, dict] = {}
    content, finish = "", None
    for chunk in client.chat.completions.create(**args, **kw, stream=True):
        d = chunk.choices[0].delta
        content += d.content or ""
        for tc in d.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": tc.id, "name": tc.function.name, "args": ""})
            slot["args"] += tc.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == whole.finish_reason
    if "tools" in kw:
        got = [(c["name"], c["args"]) for _, c in sorted(calls.items())]
        want = [(t.function.name, t.function.arguments) for t in whole.message.tool_calls]
        assert got == want and all(c["id"].startswith("call_") for c in calls.values())
    else:
        assert content == whole.message.content


def test_tool_history_round_trip(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="tiny",
        messages=MSGS,
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=60,
        temperature=0,
    )
    call = first.choices[0].message.tool_calls[0]
    history = [
        *MSGS,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    out = client.chat.completions.create(
        model="tiny", messages=history, tools=[WEATHER], tool_choice="none", max_tokens=8
    )
    assert out.choices[0].message.tool_calls is None
    assert out.choices[0].finish_reason in ("stop", "length")


@pytest.mark.parametrize(
    ("kw", "param"),
    [
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "strange"}},
                }
            },
            "response_format.json_schema.schema",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "array", "uniqueItems": True}},
                }
            },
            "response_format.json_schema.schema",
        ),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            None,
        ),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "parameters": {
                                "type": "object",
                                "properties": {"a": {"type": "strange"}},
                            },
                        },
                    }
                ],
                "tool_choice": "required",
            },
            "tools[0].function.parameters",
        ),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "f", "parameters": {"type": "string"}},
                    }
                ]
            },
            "tools.0.function.parameters",
        ),
        ({"tool_choice": "required"}, None),
    ],
    ids=[
        "bad-type",
        "unsupported",
        "no-schema",
        "unknown-tool",
        "bad-params",
        "not-object",
        "no-tools",
    ],
)
def test_bad_input_is_400_naming_the_field(
    client: openai.OpenAI, kw: dict, param: str | None
) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny", messages=MSGS, max_tokens=5, **kw)
    err = e.value.body
    if param:
        assert err["param"] == param, err
    else:
        assert "tool" in err["message"], err


def test_bad_arguments_in_history_is_400(client: openai.OpenAI) -> None:
    bad = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{oops"},
    }
    history = [*MSGS, {"role": "assistant", "content": None, "tool_calls": [bad]}]
    with pytest.raises(openai.BadRequestError, match="arguments"):
        client.chat.completions.create(model="tiny", messages=history, max_tokens=5)


def test_scan_calls_handles_strings_and_partial_text() -> None:
    text = (
        '<tool_call>\n{"name": "f", "arguments": {"s": "a}\\"{[", "x": [1, {"y": 2}]}}'
        "\n</tool_call>\n"
        '<tool_call>\n{"name": "g", "arguments": {"q": 1'
    )
    assert scan_calls(text) == [
        ("f", '{"s": "a}\\"{[", "x": [1, {"y": 2}]}', True),
        ("g", '{"q": 1', False),
    ]
    assert scan_calls('<tool_call>\n{"name": "ab') == []


def test_fallback_and_native_rendering() -> None:
    fn = WEATHER["function"]
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": fn["name"], "arguments": '{"unit": "c"}'},
    }
    conv = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "21", "tool_call_id": "call_1"},
    ]
    fallback = chat_messages(conv, [fn], native=False, parallel=False)
    assert fallback[0]["role"] == "system" and '"get_weather"' in fallback[0]["content"]
    assert (
        fallback[2]["content"]
        == '<tool_call>\n{"name": "get_weather", "arguments": {"unit": "c"}}\n</tool_call>'
    )
    native = chat_messages(conv, [fn], native=True, parallel=False)
    assert native[1]["tool_calls"][0]["function"]["arguments"] == {"unit": "c"}
    assert native[2]["tool_call_id"] == "call_1" and native[0]["role"] == "user"
    assert "start: calls | TEXT" in call_grammar([fn], parallel=True, auto=True)


def test_n_choices_and_completions_bad_schema(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(
        model="tiny", messages=MSGS, response_format=RF, max_tokens=60, n=2, temperature=1, seed=5
    )
    for c in out.choices:
        jsonschema.validate(json.loads(c.message.content), SCHEMA)
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"not": {}}}}
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(
            model="tiny", prompt="x", max_tokens=5, extra_body={"response_format": bad}
        )
    assert e.value.body["param"] == "response_format.json_schema.schema"
    assert "not" in e.value.body["message"]


NATIVE = (
    "{% if tools %}<|im_start|>system\n{% for t in tools %}{{ t | tojson }}\n{% endfor %}"
    "<|im_end|>\n{% endif %}{% for m in messages %}<|im_start|>{{ m.role }}\n"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>\n"
    '{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}\n'
    "</tool_call>{% endfor %}{% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_native_tool_template_renders_tools_and_calls(tiny_tokenizer) -> None:
    from lmforge.models.chat import render_chat
    from lmforge.serve.tools import native_tools

    native = copy.deepcopy(tiny_tokenizer)  # the session's tokenizer stays as it is
    native.chat_template = NATIVE
    assert native_tools(native) and not native_tools(tiny_tokenizer)
    fn = WEATHER["function"]
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": fn["name"], "arguments": '{"unit": "f"}'},
    }
    conv = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "21", "tool_call_id": "c1"},
    ]
    text = render_chat(native, chat_messages(conv, [fn], True, False), tools=[WEATHER])
    assert '"name": "get_weather"' in text.split("<|im_end|>")[0]  # tools in the system turn
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"unit": "f"}}\n</tool_call>' in text


def test_call_tags_admit_the_native_single_token() -> None:
    """Qwen2.5 has `<tool_call>` as one added token that llguidance reads as special (no
    bytes); the grammar must admit that token, not only the tag's bytes."""

    class Tok:
        unk_token_id = 0

        def convert_tokens_to_ids(self, toks: list[str]) -> list[int]:
            return [{"<tool_call>": 151657, "</tool_call>": 151658}.get(t, 0) for t in toks]

    fn = WEATHER["function"]
    g = call_grammar([fn], parallel=False, auto=False, tokenizer=Tok())
    assert '("<tool_call>" | <[151657]>) "\\n" body "\\n" ("</tool_call>" | <[151658]>)' in g
    assert "<[" not in call_grammar([fn], parallel=False, auto=False)  # no tokenizer: bytes


def test_tool_schemas_with_defs_compile_and_keep_each_tools_definitions() -> None:
    """pydantic writes an enum argument as a `$ref` into the parameters' own `$defs` (AgentDojo's
    `share_file`); embedded in the call schema that pointer dangled and every request offering
    the tool was a 400. The definitions are hoisted, named per tool."""
    import jsonschema
    from llguidance import LLMatcher

    from lmforge.serve.tools import call_schema

    def tool(name: str, values: list[str]) -> dict:
        params = {
            "$defs": {"Perm": {"enum": values, "type": "string"}},
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/Perm"}},
            "required": ["p"],
        }
        return {"name": name, "parameters": params}

    tools = [tool("share_file", ["r", "rw"]), tool("other", ["x"])]
    is_error, problems = LLMatcher.validate_grammar_with_warnings(
        call_grammar(tools, parallel=False, auto=True)
    )
    assert not is_error and not problems
    schema = {k: v for k, v in call_schema(tools).items() if k != "x-guidance"}
    ok = jsonschema.Draft202012Validator(schema).is_valid
    assert ok({"name": "share_file", "arguments": {"p": "rw"}})
    assert ok({"name": "other", "arguments": {"p": "x"}})
    assert not ok({"name": "share_file", "arguments": {"p": "x"}})
