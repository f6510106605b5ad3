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
    __slots__ = ("pool", "spec")

    def __init__(self, spec: TaskSpec, pool: list[dict[str, Any]]) -> None:
        self.spec, self.pool = spec, pool

    def shots(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        k = self.spec.fewshot.k
        if k == 0:
            return []
        others = [x for x in self.pool if x["id"] != item["id"]]
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

    def context(self, item: dict[str, Any]) -> str:
        """Few-shot examples followed by the item's own prompt."""
        parts = [self.example(x) for x in self.shots(item)]
        parts.append(render(self.spec.prompt, item, f"task {self.spec.name} prompt"))
        return self.spec.fewshot.separator.join(parts)

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
