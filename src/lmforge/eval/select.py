"""Which items of a task to run: all, the first N, the first N per subject, or a seeded sample.

`--limit N` (the first N) is the cheapest smoke run, but on a file sorted by subject (MMLU) it
measures one subject. `--limit-per-subject N` takes the first N items of every subject;
`--sample N --sample-seed S` draws N items uniformly at random with a fixed seed. Selected
items keep their file order, so the same selection gives the same results file.
"""

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from lmforge.errors import LMForgeError


@dataclass(slots=True, frozen=True)
class Selection:
    limit: int | None = None
    per_subject: int | None = None
    sample: int | None = None
    seed: int = 0
    subject_field: str = "subject"

    def __post_init__(self) -> None:
        chosen = [x is not None for x in (self.limit, self.per_subject, self.sample)]
        if sum(chosen) > 1:
            raise LMForgeError("use one of --limit, --limit-per-subject and --sample")


def select_items(items: list[dict[str, Any]], sel: Selection, task: str) -> list[dict[str, Any]]:
    if sel.limit is not None:
        return items[: sel.limit]
    if sel.sample is not None:
        if sel.sample >= len(items):
            return items
        keep = set(random.Random(f"{sel.seed}:{task}").sample(range(len(items)), sel.sample))
        return [x for i, x in enumerate(items) if i in keep]
    if sel.per_subject is not None:
        if items and sel.subject_field not in items[0]:
            have = ", ".join(sorted(items[0]))
            raise LMForgeError(
                f"task {task}: --limit-per-subject needs an item field {sel.subject_field!r} "
                f"(fields: {have}); name it with --subject-field"
            )
        taken: dict[Any, int] = defaultdict(int)
        out = []
        for x in items:
            s = x[sel.subject_field]
            if taken[s] < sel.per_subject:
                taken[s] += 1
                out.append(x)
        return out
    return items
