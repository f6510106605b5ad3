"""`Agent`: model -> tool calls -> (policy, tool, guard) -> tool results -> model, until an
answer, a budget (steps, tokens, wall time) or the policy stops it.

    agent = Agent(AgentConfig(tools=["python"], policy={"python": {}}))
    result = agent.run("What is 17 * 23? Use python.", run_dir=Path("runs/x"))

Each call goes through the same gate, in order: the policy (granted? arguments inside the
grant?), confirmation when the grant asks for it, the tool under a time limit, the size cap,
then the guard. A refusal becomes a tool message the model reads, and an audit record.
"""

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmforge.agent.barecall import NOT_RERUN, call_key, parse_bare_call
from lmforge.agent.client import ChatClient
from lmforge.agent.config import AgentConfig
from lmforge.agent.executor import execute
from lmforge.agent.policy import Policy, Refused
from lmforge.agent.provenance import Provenance
from lmforge.agent.screen import Screen, cap
from lmforge.agent.tools.base import Tool
from lmforge.agent.toolset import build_tools
from lmforge.agent.trace import Printer, Trace
from lmforge.config import load_config

Confirm = Callable[[str, dict[str, Any]], bool]


@dataclass(slots=True)
class AgentResult:
    answer: str | None
    stop_reason: str  # answer | max_steps | max_tokens | wall_time | policy
    steps: int
    tokens: int
    seconds: float
    tool_calls: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def deny_all(name: str, args: dict[str, Any]) -> bool:
    """Batch mode: nobody is there to say yes, so a call that needs a yes is refused."""
    return False


def ask_terminal(name: str, args: dict[str, Any]) -> bool:
    from rich.prompt import Confirm as RichConfirm

    return RichConfirm.ask(f"allow [cyan]{name}[/] {args}?", default=False)


def _replayable(call: dict[str, Any]) -> dict[str, Any]:
    """The call as it goes back into the history: arguments cut short (the model ran out of
    tokens) or not an object would make the endpoint reject every later request, so they are
    replayed as `{}`; the refusal the model reads says what was wrong."""
    fn = dict(call.get("function") or {})
    try:
        ok = isinstance(json.loads(fn.get("arguments") or "{}"), dict)
    except (json.JSONDecodeError, TypeError):
        ok = False
    if not ok:
        fn["arguments"] = "{}"
    return {**call, "function": fn}


class Agent:
    def __init__(
        self,
        config: AgentConfig | str | Path,
        tools: Sequence[Tool | Callable[..., Any]] = (),
        confirm: Confirm | None = None,
        guard: Any = None,
        client: ChatClient | None = None,
        printer: Printer | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        cfg = config if isinstance(config, AgentConfig) else load_config(AgentConfig, config)
        self.cfg = cfg
        self.policy = Policy.build(cfg.policy, cfg.workspace)
        self.tools, self._servers = build_tools(cfg, tools)
        self.visible = self.policy.visible(self.tools)
        self.confirm = confirm or (deny_all if cfg.batch else ask_terminal)
        self.screen = Screen(cfg.guard, guard)
        self.client = client or ChatClient(cfg.base_url, cfg.api_key, cfg.model)
        self.printer = printer
        self.clock = clock  # the wall-time budget's clock (tests pass a fake one)

    def close(self) -> None:
        for s in self._servers:
            s.close()

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call_tool(
        self, call: dict[str, Any], step: int, trace: Trace, left_s: float, prov: Provenance
    ) -> str:
        fn = call.get("function") or {}
        name, raw = str(fn.get("name", "")), fn.get("arguments") or "{}"
        raw = raw if isinstance(raw, str) else json.dumps(raw)
        trace.event("tool_call", step=step, id=call.get("id"), name=name, arguments=raw)
        tool = self.tools.get(name)
        try:
            args = self.policy.check(tool, name, raw)
            assert tool is not None
            grant = self.policy.grants[name]
            if grant.provenance:
                prov.check(tool, args, grant.trusted_values, grant.endorse)
            if self.policy.needs_confirmation(tool, args) and not self.confirm(name, args):
                how = "batch mode denies it" if self.confirm is deny_all else "the user said no"
                raise Refused(f"call needs confirmation and {how}")
        except Refused as e:
            trace.event("refused", step=step, name=name, arguments=raw[:2000], cause=str(e))
            return f"[refused by policy] {e}"
        pointed = prov.points(args, grant.trusted_values)  # before the result can vouch
        out = execute(tool, args, min(grant.timeout_s, max(left_s, 0.1)))
        text, was_cut = cap(out.text, grant.max_result_chars)
        s = self.screen(name, text)
        # raw text: quarantined output is still recorded, as flagged (never a source)
        if grant.trusted_output:
            prov.trust(text)
        else:
            flagged, fields = s.treatment != "pass", grant.trusted_fields
            prov.observe(
                text, pointed=pointed, flagged=flagged, certain=s.certain, trusted_fields=fields
            )
        trace.event(
            "tool_result",
            step=step,
            name=name,
            ok=out.ok,
            error=out.error,
            seconds=out.seconds,
            cut=was_cut,
            guard=s.action,
            guard_reason=s.reason,
            treatment=s.treatment,
            endorsed=pointed and s.treatment == "pass" and not grant.trusted_output,
            raw=text,
            content=s.text,
        )
        return s.text

    def _bare(self, content: Any, step: int) -> dict[str, Any] | None:
        """A bare JSON object in the text that calls an offered tool, as a tool call
        (`agent.barecall`); it then takes the same gate as a call in the endpoint's syntax."""
        found = parse_bare_call(content, {t.name for t in self.visible})
        if found is None:
            return None
        name, args = found
        fn = {"name": name, "arguments": json.dumps(args)}
        return {"id": f"bare-{step}", "type": "function", "function": fn}

    def run(self, task: str, run_dir: Path | None = None) -> AgentResult:
        cfg, t0 = self.cfg, self.clock()
        trace = Trace(run_dir, self.printer)
        trace.event("start", task=task, model=cfg.model, tools=[t.name for t in self.visible])
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": cfg.system},
            {"role": "user", "content": task},
        ]
        prov = Provenance(sole=cfg.endorse_sole)
        prov.trust(cfg.system)
        prov.trust(task)
        tokens = calls = refused = step = 0
        answer, reason = None, "max_steps"
        ran: set[tuple[str, str]] = set()  # calls that ran: a repeat is not run again
        answer_now = False  # after a repeat the next step is asked without tools
        while step < cfg.max_steps:
            left = cfg.wall_s - (self.clock() - t0)
            if left <= 0:
                reason = "wall_time"
                break
            if tokens >= cfg.max_tokens:
                reason = "max_tokens"
                break
            step += 1
            kw: dict[str, Any] = {
                "max_tokens": max(1, min(cfg.max_new_tokens, cfg.max_tokens - tokens)),
                "temperature": cfg.temperature,
            }
            if self.visible and not answer_now:
                kw["tools"] = [t.openai() for t in self.visible]
                kw["parallel_tool_calls"] = cfg.parallel_tool_calls
                first = cfg.tool_choice == "first-required" and step == 1
                kw["tool_choice"] = "required" if cfg.tool_choice == "required" or first else "auto"
            m0 = self.clock()
            try:
                resp = self.client.chat(messages, timeout_s=left, **kw)
            except TimeoutError:
                reason = "wall_time"
                break
            usage = resp.get("usage") or {}
            tokens += int(usage.get("total_tokens") or 0)
            msg = resp["choices"][0]["message"]
            tcs = msg.get("tool_calls") or []
            bare = None if tcs or answer_now else self._bare(msg.get("content"), step)
            if bare is not None:
                tcs = [bare]
            trace.event(
                "model",
                step=step,
                seconds=round(self.clock() - m0, 4),
                tokens=int(usage.get("total_tokens") or 0),
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens"),
                content=msg.get("content"),
                tool_calls=[c.get("function", {}) for c in tcs],
                bare_call=bare is not None,
            )
            if not tcs:
                answer, reason = msg.get("content") or "", "answer"
                trace.event("answer", step=step, content=answer)
                messages.append({"role": "assistant", "content": answer})
                break
            history = [_replayable(c) for c in tcs]
            content0 = None if bare is not None else msg.get("content")
            messages.append({"role": "assistant", "content": content0, "tool_calls": history})
            for c in tcs:
                calls += 1
                fn = c.get("function") or {}
                key = call_key(str(fn.get("name", "")), fn.get("arguments") or "{}")
                if key in ran:
                    trace.event("repeat", step=step, name=key[0], arguments=key[1][:2000])
                    content, answer_now = NOT_RERUN, True
                else:
                    left = cfg.wall_s - (self.clock() - t0)
                    content = self._call_tool(c, step, trace, left, prov)
                    refused += content.startswith("[refused by policy]")
                    if not content.startswith("[refused by policy]"):
                        ran.add(key)
                messages.append({"role": "tool", "tool_call_id": c.get("id"), "content": content})
            if refused >= cfg.max_refusals:
                reason = "policy"
                break
        seconds = round(self.clock() - t0, 3)
        trace.event("stop", reason=reason, steps=step, tokens=tokens, seconds=seconds)
        return AgentResult(
            answer,
            reason,
            step,
            tokens,
            seconds,
            calls,
            [e for e in trace.events if e["event"] == "refused"],
            messages,
            trace.events,
        )
