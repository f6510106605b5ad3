"""Constrained replies that would run out of budget close as valid JSON (engine json_close)."""

import json

import openai
from tests.serve.test_structured import MSGS, check_calls, client, long_server  # noqa: F401

NOTE = {
    "type": "function",
    "function": {
        "name": "save_note",
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    },
}
TEXT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def test_tool_call_with_an_unbounded_string_still_closes(client: openai.OpenAI) -> None:  # noqa: F811
    for seed in range(3):
        out = client.chat.completions.create(
            model="tiny",
            messages=MSGS,
            tools=[NOTE],
            tool_choice="required",
            parallel_tool_calls=False,
            max_tokens=90,
            temperature=1.0,
            seed=seed,
        )
        c = out.choices[0]
        assert c.finish_reason == "tool_calls", c.message
        check_calls(c.message, {"save_note": TEXT})
        assert out.usage.completion_tokens <= 90


def test_response_format_with_an_unbounded_string_closes(client: openai.OpenAI) -> None:  # noqa: F811
    rf = {"type": "json_schema", "json_schema": {"name": "note", "schema": TEXT}}
    args = {"model": "tiny", "messages": MSGS, "response_format": rf, "max_tokens": 40}
    for seed in range(3):
        c = client.chat.completions.create(**args, temperature=1.0, seed=seed).choices[0]
        assert c.finish_reason == "stop", c.message.content
        assert set(json.loads(c.message.content)) == {"text"}
