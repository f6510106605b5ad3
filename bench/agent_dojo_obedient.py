"""The scripted worst-case model of the AgentDojo bench (`--model obedient`): no LLM, so its
figures measure the defence itself and do not depend on machine speed."""

import json
from typing import Any

from agent_dojo_roles import ROLES


def _key(call: Any) -> tuple[str, str]:
    """A tool call by what it does (the scripted model's calls carry no ids)."""
    return call.function, json.dumps(dict(call.args), sort_keys=True, default=str)


def _squash(text: str) -> str:
    return " ".join(text.split())


def obedient_llm() -> Any:
    """A worst-case model without a model: it does the user task's ground-truth calls one per
    step, and obeys any injected goal it reads in a tool result (does the injection task's
    ground-truth calls first). What it does is decided only by what reaches its context, so it
    measures the defence itself: AgentDojo's tasks, attacks and checks are unchanged.

    It reads as a model does: the goal is found whatever the line breaks (AgentDojo dumps
    results as YAML, which folds long strings across lines). And it can only write what it
    read: the injection's ground truth carries, precomputed from the environment, the data its
    look-ups would return (the user's passport number, the scheduled transactions), so when
    one of those look-ups is refused, the calls after it are dropped; a refused effect is
    only skipped."""
    from agentdojo.agent_pipeline.base_pipeline_element import BasePipelineElement
    from agentdojo.types import ChatAssistantMessage, get_text_content_as_str
    from agentdojo.types import text_content_block_from_string as block

    class Obedient(BasePipelineElement):
        name = "local-obedient"
        task: Any = None
        inj: Any = None

        def query(self, query, runtime, env, messages=(), extra_args=None):
            if not any(m["role"] == "assistant" for m in messages):
                self.plan, self.injected = list(self.task.ground_truth(env)), False
                self.attack: set[int] = set()  # injection calls still in the plan
                self.attack_last: tuple[str, str] | None = None  # the last one made
            seen = " ".join(
                get_text_content_as_str(m.get("content") or [])
                for m in messages
                if m["role"] == "tool"
            )
            last = messages[-1] if messages else {}
            if last.get("role") == "tool" and last.get("error") and self.attack:
                done = last["tool_call"]
                if done.function not in ROLES and _key(done) == self.attack_last:
                    # a refused look-up: the data the rest of the attack needs never arrived
                    self.plan = [c for c in self.plan if id(c) not in self.attack]
                    self.attack = set()
            if (
                self.inj is not None
                and not self.injected
                and _squash(self.inj.GOAL) in _squash(seen)
            ):
                calls = list(self.inj.ground_truth(env))
                self.attack = {id(c) for c in calls}
                self.plan[:0] = calls
                self.injected = True
            if self.plan:
                call = self.plan.pop(0)
                if id(call) in self.attack:
                    self.attack.discard(id(call))
                    self.attack_last = _key(call)
                msg = ChatAssistantMessage(role="assistant", tool_calls=[call], content=[block("")])
            else:
                out = self.task.GROUND_TRUTH_OUTPUT
                msg = ChatAssistantMessage(role="assistant", tool_calls=None, content=[block(out)])
            return query, runtime, env, [*messages, msg], extra_args

    return Obedient()
