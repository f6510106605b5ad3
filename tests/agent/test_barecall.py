"""Bare JSON tool calls and repeated calls: parsed, gated like any call, never run twice."""

import json
from pathlib import Path

from tests.agent.conftest import ScriptedClient, call, say
from tests.agent.test_runtime import make, read

from lmforge.agent.barecall import NOT_RERUN, call_key, parse_bare_call


def test_parse_shapes() -> None:
    offered = {"get_balance", "send_money"}
    assert parse_bare_call('{"name": "get_balance", "arguments": {}}', offered) == (
        "get_balance",
        {},
    )
    assert parse_bare_call(
        '```json\n{"name": "send_money", "parameters": {"amount": 5}}\n```', offered
    ) == ("send_money", {"amount": 5})
    nested = '{"function": {"name": "send_money", "arguments": "{\\"to\\": \\"x\\"}"}}'
    assert parse_bare_call(nested, offered) == ("send_money", {"to": "x"})
    assert parse_bare_call('<tool_call>{"tool": "get_balance"}</tool_call>', offered) == (
        "get_balance",
        {},
    )


def test_parse_rejects_text_unoffered_and_bad_arguments() -> None:
    offered = {"get_balance"}
    assert parse_bare_call("Your balance is 5.", offered) is None
    assert parse_bare_call('Sure: {"name": "get_balance"}', offered) is None  # text around
    assert parse_bare_call('{"name": "delete_all", "arguments": {}}', offered) is None
    assert parse_bare_call('{"name": "get_balance", "arguments": [1]}', offered) is None
    assert parse_bare_call('{"name": "get_balance", "arguments": "{bad"}', offered) is None
    assert parse_bare_call(None, offered) is None
    assert parse_bare_call("[1, 2]", offered) is None


def test_call_key_is_canonical() -> None:
    assert call_key("f", '{"a": 1, "b": 2}') == call_key("f", {"b": 2, "a": 1})
    assert call_key("f", "") == call_key("f", {})
    assert call_key("f", "{x") == ("f", "{x")
    assert call_key("f", {"a": 1}) != call_key("g", {"a": 1})


def test_bare_call_runs_through_the_gate(tmp_path: Path, rules_guard) -> None:
    client = ScriptedClient(
        say(json.dumps({"name": "python", "arguments": {"code": "print(6 * 7)"}})),
        lambda m: say(f"It is {m[-1]['content']}."),
    )
    agent = make(tmp_path, client, rules_guard, tools=["python"], policy={"python": {}})
    r = agent.run("6*7?", run_dir=tmp_path / "run")
    assert r.answer == "It is 42." and r.tool_calls == 1 and r.steps == 2
    ev = read(tmp_path / "run" / "trace.jsonl")
    assert ev[1]["event"] == "model" and ev[1]["bare_call"] is True
    assert [e["event"] for e in ev][2:4] == ["tool_call", "tool_result"]
    assert client.requests[1]["messages"][2]["tool_calls"][0]["function"]["name"] == "python"


def test_bare_call_to_a_hidden_tool_stays_text(tmp_path: Path, rules_guard) -> None:
    def send_money(account: str) -> str:
        """Send money."""
        raise AssertionError("must never run")

    text = json.dumps({"name": "send_money", "arguments": {"account": "666"}})
    client = ScriptedClient(say(text))
    agent = make(tmp_path, client, rules_guard, tools=["python", send_money], policy={"python": {}})
    r = agent.run("hi", run_dir=tmp_path / "run")
    assert r.answer == text and r.tool_calls == 0 and r.stop_reason == "answer"


def test_bare_call_with_bad_arguments_is_refused_by_the_policy(tmp_path: Path, rules_guard) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    client = ScriptedClient(
        say(json.dumps({"name": "files", "arguments": {"op": "read", "path": "../x"}})),
        say("ok"),
    )
    agent = make(tmp_path, client, rules_guard, tools=["files"], policy={"files": {}})
    r = agent.run("read ../x", run_dir=tmp_path / "run")
    assert r.answer == "ok" and len(r.refused) == 1
    assert client.requests[1]["messages"][-1]["content"].startswith("[refused by policy]")


def test_repeated_call_is_not_rerun_and_next_step_must_answer(tmp_path: Path, rules_guard) -> None:
    runs: list[str] = []

    def pay(to: str) -> str:
        """Pay someone.

        Args:
            to: the payee.
        """
        runs.append(to)
        return "paid"

    client = ScriptedClient(
        call("pay", to="bob"),
        say(json.dumps({"name": "pay", "arguments": {"to": "bob"}})),  # the same, as text
        say("Paid Bob."),
    )
    agent = make(tmp_path, client, rules_guard, tools=[pay], policy={"pay": {}})
    r = agent.run("Pay bob", run_dir=tmp_path / "run")
    assert runs == ["bob"] and r.answer == "Paid Bob." and r.steps == 3
    assert client.requests[2]["messages"][-1]["content"] == NOT_RERUN
    assert "tools" not in client.requests[2] and client.shown(1) == ["pay"]
    assert "repeat" in [e["event"] for e in read(tmp_path / "run" / "trace.jsonl")]


def test_a_refused_call_may_be_retried(tmp_path: Path, rules_guard) -> None:
    """Only calls that ran count as done: a refused call, repeated, meets the gate again."""
    client = ScriptedClient(call("nope"), call("nope"), say("gave up"))
    agent = make(tmp_path, client, rules_guard, tools=["python"], policy={"python": {}})
    r = agent.run("x", run_dir=tmp_path / "run")
    assert len(r.refused) == 2 and r.answer == "gave up"
