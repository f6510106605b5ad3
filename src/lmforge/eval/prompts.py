"""Rendering items into prompts: Jinja templates plus seeded few-shot examples.

Few-shot examples for item i are drawn from the other items with `Random(f"{seed}:{id}")`, so the
draw is reproducible per item and independent of `--limit` and of item order; or, with the
`first_n` sampler, are the first k other items of the pool, the same for (almost) every item.
"""

import random
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from lmforge.errors import LMForgeError
from lmforge.eval.taskspec import TaskSpec

_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)


def render(template: str, item: dict[str, Any], where: str) -> str:
    try:
        return _ENV.from_string(template).render(**item)
    except Exception as e:  # jinja raises many types; all mean a template/item mismatch
        raise LMForgeError(f"{where}: template failed on item {item.get('id')!r} ({e})") from None


class PromptBuilder:
    """Prompts as lm-evaluation-harness builds them: description, then the few-shot examples
    (prompt, target delimiter, target) and the item's prompt, joined by the few-shot separator.
    """

    __slots__ = ("own_pool", "pool", "spec")

    def __init__(self, spec: TaskSpec, pool: list[dict[str, Any]], own_pool: bool = True) -> None:
        # own_pool: the examples come from the task's own items, so an item never shows itself.
        self.spec, self.pool, self.own_pool = spec, pool, own_pool

    def shots(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        k = self.spec.fewshot.k
        if k == 0:
            return []
        others = [x for x in self.pool if not self.own_pool or x["id"] != item["id"]]
        if len(others) < k:
            raise LMForgeError(f"task {self.spec.name}: {k}-shot needs {k + 1}+ items")
        if self.spec.fewshot.sampler == "first_n":
            return others[:k]
        return random.Random(f"{self.spec.fewshot.seed}:{item['id']}").sample(others, k)

    def example(self, item: dict[str, Any]) -> str:
        """A solved example: prompt, delimiter, the target answer."""
        name = self.spec.name
        return (
            render(self.spec.prompt, item, f"task {name} prompt")
            + self.spec.target_delimiter
            + render(self.spec.target, item, f"task {name} target")
        )

    def description(self, item: dict[str, Any]) -> str:
        """The task description rendered for `item` ('' when the task has none)."""
        if not self.spec.description:
            return ""
        return render(self.spec.description, item, f"task {self.spec.name} description")

    def context(self, item: dict[str, Any]) -> str:
        """Description, few-shot examples, then the item's own prompt.

        As lm-eval: the description is prepended as is (it carries its own trailing "\n\n");
        examples and the prompt are joined by the few-shot separator. A chat task's description
        goes to the system message instead (`system`).
        """
        parts = [self.example(x) for x in self.shots(item)]
        parts.append(render(self.spec.prompt, item, f"task {self.spec.name} prompt"))
        lead = "" if self.spec.chat else self.description(item)
        return lead + self.spec.fewshot.separator.join(parts)

    def system(self, item: dict[str, Any]) -> str | None:
        """The chat system message: the task's, then its description (lm-eval's order)."""
        desc = self.description(item) if self.spec.chat else ""
        if self.spec.system and desc:
            return self.spec.system + self.spec.fewshot.separator + desc
        return self.spec.system or desc or None

    def gen_prefix(self, item: dict[str, Any]) -> str:
        """What the answer starts with ('' unless the task sets gen_prefix)."""
        if self.spec.gen_prefix is None:
            return ""
        return render(self.spec.gen_prefix, item, f"task {self.spec.name} gen_prefix")

    def gold(self, item: dict[str, Any]) -> str:
        return render(self.spec.gold, item, f"task {self.spec.name} gold")

    def choices(self, item: dict[str, Any]) -> list[str]:
        if self.spec.choices is None:
            return [str(c) for c in item["choices"]]
        return [render(c, item, f"task {self.spec.name} choices") for c in self.spec.choices]
