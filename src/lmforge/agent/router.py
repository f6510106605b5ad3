"""The router step: send a task to one of several agents, by rule or by a classifier.

Rules are regexes tried in order; the first match wins. With `classifier: llm` a task no rule
matches is put to the default agent's model as a choice among the route descriptions, decoded
under a JSON schema whose only values are the route names (so the answer is always a route).
"""

import json
import re

from lmforge.agent.client import ChatClient
from lmforge.agent.config import AgentConfig, RouterConfig


class Router:
    def __init__(self, cfg: RouterConfig, agents: dict[str, AgentConfig]) -> None:
        self.cfg, self.agents = cfg, agents
        self.rules = [(re.compile(r.pattern, re.I), r) for r in cfg.routes if r.pattern]
        self.client: ChatClient | None = None

    def pick(self, task: str) -> tuple[str, str]:
        """(agent name, why)."""
        for rx, r in self.rules:
            if rx.search(task):
                return r.agent, f"rule /{rx.pattern}/"
        if self.cfg.classifier == "llm":
            return self._classify(task)
        return self.cfg.default, "default"

    def _classify(self, task: str) -> tuple[str, str]:
        d = self.agents[self.cfg.default]
        self.client = self.client or ChatClient(d.base_url, d.api_key, d.model)
        names = sorted({r.agent for r in self.cfg.routes} | {self.cfg.default})
        menu = "\n".join(f"- {r.agent}: {r.description}" for r in self.cfg.routes)
        schema = {
            "type": "object",
            "properties": {"route": {"enum": names}},
            "required": ["route"],
        }
        resp = self.client.chat(
            [
                {"role": "system", "content": f"Pick the route for the task.\n{menu}"},
                {"role": "user", "content": task},
            ],
            timeout_s=60,
            max_tokens=32,
            temperature=0,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "route", "schema": schema, "strict": True},
            },
        )
        try:
            name = json.loads(resp["choices"][0]["message"]["content"])["route"]
        except (ValueError, KeyError, TypeError):
            return self.cfg.default, "classifier gave no route; default"
        return (name, "classifier") if name in self.agents else (self.cfg.default, "default")
