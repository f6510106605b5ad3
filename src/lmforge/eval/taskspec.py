"""Task declarations: one YAML file per task, mirrored 1:1 by `TaskSpec`.

A task says where its items come from (`data`), how an item becomes a prompt (Jinja templates
over the item's fields), how many few-shot examples precede it and with which seed, what the
model is asked to do (`kind`) and which metrics score it. Shipped tasks live next to this
file in tasks/*.yaml; any other YAML path works the same way.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from lmforge.config import StageConfig, format_validation_error, load_config, read_yaml
from lmforge.errors import ConfigError, LMForgeError

TASKS_DIR = Path(__file__).parent / "tasks"
Kind = Literal["multiple_choice", "generate", "code", "perplexity", "json_schema", "faithfulness"]
Format = Literal["jsonl", "csv", "mmlu", "gpqa", "gsm8k", "humaneval", "text"]


class DataSpec(StageConfig):
    path: str = Field(..., description="File path, or pkg:<package>/<file> inside a package.")
    format: Format = Field("jsonl", description="How rows become items (see docs/eval.md).")
    shuffle_choices_seed: int | None = Field(
        None, description="gpqa: shuffle the four options per item with this seed."
    )
    text_field: str = Field("text", description="perplexity: the item field holding the text.")


class FewShotSpec(StageConfig):
    k: int = Field(0, ge=0, description="Examples before each item (drawn from other items).")
    seed: int = Field(1234, description="Seed of the per-item few-shot draw.")
    sampler: Literal["random", "first_n"] = Field(
        "random",
        description="random: k seeded draws per item; first_n: the first k other items, as "
        "lm-eval's gsm8k (one shared prefix, so the engine's prefix cache prefills it once).",
    )
    separator: str = Field("\n\n", description="Between examples and the item.")
    data: DataSpec | None = Field(
        None,
        description="Draw examples from this file (lm-eval's fewshot_split) instead of the "
        "task's own items.",
    )


class Extractor(StageConfig):
    name: str = Field(..., description="Suffix of the metric name, e.g. 'strict'.")
    regex: str = Field(..., description="Answer pattern; group 1 if any, else the whole match.")
    select: Literal["first", "last"] = Field("first", description="Which match to keep.")


class TaskSpec(StageConfig):
    name: str
    kind: Kind
    title: str = Field("", description="One-line label for `lmforge eval tasks` and reports.")
    description: str = Field(
        "",
        description="Jinja template prepended to every prompt, before the few-shot examples "
        "(lm-eval's description; chat tasks: appended to the system message).",
    )
    data: DataSpec
    prompt: str = Field("{{question}}", description="Jinja template of the item's prompt.")
    target: str = Field("{{answer}}", description="Few-shot answer text after the prompt.")
    gold: str = Field("{{answer}}", description="What the output is scored against.")
    choices: list[str] | None = Field(None, description="MC continuations; default: item choices")
    target_delimiter: str = Field(" ", description="Between the prompt and an answer.")
    fewshot: FewShotSpec = FewShotSpec()
    gen_prefix: str | None = Field(
        None,
        description="Jinja template the answer starts with, prefilled after the prompt (or the "
        "assistant header); the completion continues it (lm-eval's gen_prefix).",
    )
    chat: bool = Field(False, description="Send the prompt as a user turn (chat template).")
    system: str | None = None
    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list)
    extract: list[Extractor] = Field(default_factory=list)
    prediction_field: str | None = Field(
        None, description="generate: score this item field instead of generating (no model)."
    )
    metrics: list[str] = Field(default_factory=list)
    n_samples: int = Field(1, ge=1, description="code: samples per problem.")
    k: list[int] = Field(default_factory=lambda: [1], description="code: pass@k values.")
    timeout_s: float = Field(10.0, gt=0, description="code: wall-clock limit per sample.")
    schema_field: str = Field(
        "schema", description="json_schema: the item field holding the output's JSON Schema."
    )
    gold_field: str = Field("answer", description="json_schema: the item field of the gold object.")
    constrained: bool = Field(
        True, description="json_schema: decode under the schema when the backend can."
    )
    contexts_field: str = Field(
        "contexts", description="faithfulness: the item field listing the context passages."
    )
    verifier: Literal["nli", "judge"] = Field(
        "nli", description="faithfulness: in-project NLI cross-encoder, or the backend as judge."
    )
    verifier_path: str | None = Field(
        None, description="faithfulness: trained verifier directory (default: lmforge's cache)."
    )
    verifier_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="faithfulness: P(supported) at or above which a claim is supported "
        "(default: the dev-chosen one in the verifier's lmforge-verifier.json).",
    )
    max_length: int = Field(1024, ge=2, description="perplexity: window length in tokens.")
    stride: int = Field(512, ge=1, description="perplexity: window step in tokens.")


def shipped_tasks() -> dict[str, Path]:
    return {p.stem: p for p in sorted(TASKS_DIR.glob("*.yaml"))}


def load_task(ref: str) -> TaskSpec:
    """A shipped task by name, or a task YAML by path (lmforge's keys, or lm-eval's)."""
    from lmforge.eval.lm_eval_yaml import is_lm_eval, translate

    path = shipped_tasks().get(ref) or Path(ref)
    if not path.is_file():
        names = ", ".join(shipped_tasks())
        raise LMForgeError(f"unknown task {ref!r}: not a shipped task ({names}) nor a YAML file")
    raw = read_yaml(path)
    if is_lm_eval(raw):
        try:
            spec = TaskSpec.model_validate(translate(raw, path))
        except ValidationError as e:
            raise ConfigError(format_validation_error(e, TaskSpec, str(path))) from None
    else:
        spec = load_config(TaskSpec, path)
    for d in (spec.data, spec.fewshot.data):
        if d is None:
            continue
        local = not d.path.startswith("pkg:") and not Path(d.path).is_absolute()
        if local and (path.parent / d.path).is_file():  # relative to the task file
            d.path = str(path.parent / d.path)
    if spec.kind == "code" and max(spec.k) > spec.n_samples:
        raise LMForgeError(f"{path}: pass@{max(spec.k)} needs n_samples >= {max(spec.k)}")
    if spec.kind == "perplexity" and spec.stride > spec.max_length:
        raise LMForgeError(f"{path}: stride {spec.stride} exceeds max_length {spec.max_length}")
    return spec
