"""The AgentDojo bench's own parts: seeded subsets, resumable rows, Wilson intervals, the
table, and the served-model element (bare calls read, repeats not rerun) on a fake LLM."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))

import agent_dojo_rows as rows


def row(arm: str, user: str, inj: str | None, **kw) -> dict:
    base = {"suite": "banking", "model": "m", "quantize": "none", "provenance": "sole"}
    return base | {"max_tokens": 8, "arm": arm, "user": user, "inj": inj} | kw


def test_pick_is_seeded_and_in_suite_order() -> None:
    users, injs = [f"u{i}" for i in range(10)], [f"i{i}" for i in range(5)]
    a = rows.pick(users, injs, 4, 2, seed=3)
    assert a == rows.pick(users, injs, 4, 2, seed=3)
    assert a != rows.pick(users, injs, 4, 2, seed=4)
    assert len(a) == 4 and all(len(i) == 2 for _, i in a)
    assert [u for u, _ in a] == sorted((u for u, _ in a), key=users.index)
    assert all(len(i) == 5 for _, i in rows.pick(users, injs, 2, 0, seed=0))  # 0: all
    assert len(rows.pick(users, injs, 99, 1, seed=0)) == 10


def test_wilson_bounds() -> None:
    assert rows.wilson(0, 0) is None
    lo, hi = rows.wilson(0, 10)
    assert lo == 0.0 and 0.2 < hi < 0.35  # not the degenerate [0, 0] of the normal interval
    lo, hi = rows.wilson(10, 10)
    assert hi == 1.0 and 0.65 < lo < 0.8
    lo, hi = rows.wilson(5, 10)
    assert lo < 0.5 < hi and abs((0.5 - lo) - (hi - 0.5)) < 1e-3


def test_rowlog_resumes_and_tolerates_a_torn_line(tmp_path: Path) -> None:
    p = tmp_path / "rows.jsonl"
    log = rows.RowLog(p)
    log.add(row("undefended", "u0", None, utility=True))
    log.add(row("lmforge", "u0", "i0", utility=False, attack=False, needs_ungranted=True))
    with p.open("a") as fh:
        fh.write('{"arm": "undef')  # a chunk killed mid-write
    again = rows.RowLog(p)
    assert len(again.rows) == 2
    assert again.has(row("undefended", "u0", None)) and not again.has(row("lmforge", "u0", None))
    assert not again.has(row("undefended", "u0", None) | {"model": "other"})


def test_summarise_and_combine_dedupes_across_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    r1 = row("undefended", "u0", "i0", utility=True, attack=True, needs_ungranted=True)
    r2 = row("lmforge", "u0", "i0", utility=True, attack=False, needs_ungranted=True)
    r3 = row("undefended", "u0", None, utility=True)
    a.write_text("\n".join(json.dumps(r) for r in (r1, r2)) + "\n")
    b.write_text("\n".join(json.dumps(r) for r in (r1, r3)) + "\n")  # r1 again
    got = list(rows.read_rows([a, b]))
    assert len(got) == 3
    s = rows.summarise(got)
    assert s["undefended"]["attack_success_rate"]["k"] == 1
    assert s["undefended"]["attack_success_rate"]["n"] == 1
    assert s["lmforge"]["asr_needing_ungranted_tool"]["rate"] == 0.0
    assert s["lmforge"]["utility_no_attack"]["n"] == 0
    md = rows.markdown(rows.group(got))
    assert "| banking | m | undefended | 1.000 [0.21, 1.00] (1/1) |" in md
    assert md.count("\n") == 3  # header, rule, two arms


def _llm(replies: list):
    pytest.importorskip("agentdojo")
    from agentdojo.agent_pipeline.base_pipeline_element import BasePipelineElement
    from agentdojo.types import text_content_block_from_string

    class Fake(BasePipelineElement):
        name = "fake"

        def __init__(self) -> None:
            self.seen: list = []

        def query(self, query, runtime, env, messages=(), extra_args=None):
            self.seen.append(sorted(runtime.functions))
            r = replies.pop(0)
            msg = {"role": "assistant", "content": [text_content_block_from_string(r[0])],
                   "tool_calls": r[1]}  # fmt: skip
            return query, runtime, env, [*messages, msg], extra_args

    return Fake()


def _runtime():
    from agentdojo.functions_runtime import FunctionsRuntime, make_function

    def get_balance() -> float:
        """Balance of the account."""
        return 1.0

    return FunctionsRuntime([make_function(get_balance)])


def test_served_model_reads_a_bare_call_and_cuts_a_repeat() -> None:
    pytest.importorskip("agentdojo")
    from agentdojo.functions_runtime import FunctionCall

    from agent_dojo_llm import ServedModel

    fake_replies = [
        ('{"name": "get_balance", "arguments": {}}', None),
        ('{"name": "get_balance", "arguments": {}}', None),
        ("Your balance is 1.0", None),
    ]
    fake = _llm(fake_replies)
    m = ServedModel(fake)
    rt = _runtime()
    _, _, _, out, _ = m.query("q", rt, None, [{"role": "user", "content": []}], {})
    call = out[-1]["tool_calls"][0]
    assert call.function == "get_balance" and call.args == {} and m.stats["bare_calls"] == 1
    done = {"role": "tool", "content": [], "tool_call_id": call.id, "tool_call": call,
            "error": None}  # fmt: skip
    _, _, _, out, _ = m.query("q", rt, None, [*out, done], {})
    # the same call again: not rerun; a notice, then one step without tools -> an answer
    assert m.stats["repeats"] == 1 and out[-1]["tool_calls"] is None
    assert out[-2]["role"] == "tool" and "not rerun" in out[-2]["content"][0]["content"]
    assert fake.seen[-1] == [] and fake.seen[0] == ["get_balance"]
    assert isinstance(call, FunctionCall) and m.last == out


def test_served_model_leaves_unoffered_calls_as_text() -> None:
    pytest.importorskip("agentdojo")
    from agent_dojo_llm import ServedModel

    fake = _llm([('{"name": "send_money", "arguments": {"to": "x"}}', None)])
    _, _, _, out, _ = ServedModel(fake).query("q", _runtime(), None, [], {})
    assert out[-1]["tool_calls"] is None


def test_served_model_runs_a_call_repeated_within_one_step_once() -> None:
    pytest.importorskip("agentdojo")
    from agentdojo.functions_runtime import FunctionCall

    from agent_dojo_llm import ServedModel

    same = [FunctionCall(function="get_balance", args={}, id=f"c{i}") for i in range(3)]
    m = ServedModel(_llm([("", same)]))
    _, _, _, out, _ = m.query("q", _runtime(), None, [], {})
    assert [c.id for c in out[-1]["tool_calls"]] == ["c0"] and m.stats["repeats"] == 2


def test_a_row_that_raised_is_run_again_and_replaced(tmp_path: Path) -> None:
    p = tmp_path / "rows.jsonl"
    log = rows.RowLog(p)
    log.add(row("undefended", "u0", None, utility=False, error="JSONDecodeError: x"))
    again = rows.RowLog(p)
    assert not again.has(row("undefended", "u0", None))
    again.add(row("undefended", "u0", None, utility=True, error=None))
    got = list(rows.read_rows([p]))
    assert len(got) == 1 and got[0]["utility"] is True


def test_cut_short_call_arguments_become_an_empty_object() -> None:
    pytest.importorskip("agentdojo")
    from types import SimpleNamespace as NS

    from agent_dojo_llm import replayable

    calls = [NS(function=NS(arguments=a)) for a in ("", '{"a": 1', "[1]", '{"a": 1}')]
    replayable(NS(choices=[NS(message=NS(tool_calls=calls))]))
    assert [c.function.arguments for c in calls] == ["{}", "{}", "{}", '{"a": 1}']
