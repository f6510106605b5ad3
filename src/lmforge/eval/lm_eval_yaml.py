"""Read an lm-evaluation-harness task YAML as a `TaskSpec`, with lm-eval's meaning.

So a user can point `lmforge eval run --task` at lm-eval's own YAML (say MMLU's
`_default_template_yaml` plus a subject file) and get the same prompts: `include` is merged
(the including file wins), `description` is prepended to every prompt, `doc_to_text` /
`doc_to_target` / `doc_to_choice` become the prompt, target and choices, `target_delimiter` and
`fewshot_delimiter` keep their defaults (" " and "\\n\\n"), `fewshot_split` is the few-shot pool
and `fewshot_config.sampler: first_n` takes its first k items, as lm-eval does.

lmforge reads local files only, so the data must be lm-eval's own local form:
`dataset_path: json` (or csv) with `dataset_kwargs: {data_files: {test: FILE, dev: FILE}}`. Keys
that change what lm-eval computes and that lmforge does not implement (`process_docs`,
`filter_list`, `!function` hooks, ...) are refused, naming the key, rather than ignored.
"""

from pathlib import Path
from typing import Any

from lmforge.config import read_yaml
from lmforge.errors import LMForgeError

MARKERS = {"task", "doc_to_text", "output_type", "include", "dataset_path", "doc_to_choice"}
KINDS = {
    "multiple_choice": "multiple_choice",
    "generate_until": "generate",
    "loglikelihood_rolling": "perplexity",
}
# No effect on prompts or scores here: grouping, display names, provenance, HF loader options.
IGNORED = {"tag", "group", "task_alias", "metadata", "dataset_name", "dataset_kwargs"}
HANDLED = {
    "task", "include", "output_type", "dataset_path", "test_split", "validation_split",
    "fewshot_split", "training_split", "doc_to_text", "doc_to_target", "doc_to_choice",
    "description", "target_delimiter", "fewshot_delimiter", "num_fewshot", "fewshot_config",
    "metric_list", "generation_kwargs",
}  # fmt: skip


def is_lm_eval(raw: dict[str, Any]) -> bool:
    return bool(MARKERS & set(raw))


def _merged(raw: dict[str, Any], path: Path, depth: int = 0) -> dict[str, Any]:
    """`raw` over the files it includes (recursively, paths relative to the including file)."""
    if "include" not in raw:
        return raw
    if depth > 8:
        raise LMForgeError(f"{path}: include chain deeper than 8 files")
    inc = path.parent / str(raw["include"])
    if not inc.is_file():
        raise LMForgeError(f"{path}: include {raw['include']!r} not found at {inc}")
    base = _merged(read_yaml(inc), inc, depth + 1)
    return {**base, **{k: v for k, v in raw.items() if k != "include"}}


def _field_or_template(value: Any, key: str, where: str) -> str:
    """lm-eval's doc_to_* accept a Jinja template or a bare field name."""
    if not isinstance(value, str):
        raise LMForgeError(f"{where}: {key} must be a Jinja template or a field name")
    return value if "{{" in value or "{%" in value else "{{" + value + "}}"


def translate(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """The TaskSpec fields equivalent to the lm-eval task at `path`."""
    d = _merged(raw, path)
    where = str(path)
    extra = set(d) - HANDLED - IGNORED
    if extra:
        key = sorted(extra)[0]
        raise LMForgeError(
            f"{where}: lm-eval key {key!r} is not supported by lmforge (it would change the "
            f"prompts or scores); remove it or port the task to lmforge's task keys (docs/eval.md)"
        )
    kind = KINDS.get(str(d.get("output_type", "generate_until")))
    if kind is None:
        raise LMForgeError(f"{where}: output_type {d['output_type']!r}: use one of {sorted(KINDS)}")
    files = (d.get("dataset_kwargs") or {}).get("data_files")
    if d.get("dataset_path") not in ("json", "csv") or not isinstance(files, dict):
        raise LMForgeError(
            f"{where}: dataset_path {d.get('dataset_path')!r}: lmforge reads local files; set "
            "dataset_path: json and dataset_kwargs: {data_files: {test: FILE, dev: FILE}}"
        )
    split = d.get("test_split") or d.get("validation_split") or "test"
    if split not in files:
        raise LMForgeError(f"{where}: split {split!r} has no entry in dataset_kwargs.data_files")
    out: dict[str, Any] = {
        "name": d.get("task") or path.stem,
        "kind": kind,
        "title": f"lm-eval task {d.get('task') or path.stem}",
        "description": d.get("description", ""),
        "data": {"path": str(files[split]), "format": "jsonl" if d["dataset_path"] == "json"
                 else "csv"},
        "target_delimiter": d.get("target_delimiter", " "),
    }  # fmt: skip
    if "doc_to_text" in d:
        out["prompt"] = _field_or_template(d["doc_to_text"], "doc_to_text", where)
    target = _field_or_template(d.get("doc_to_target", "answer"), "doc_to_target", where)
    out["gold"] = target
    choices = d.get("doc_to_choice")
    if kind == "multiple_choice":
        if not isinstance(choices, list):
            raise LMForgeError(f"{where}: doc_to_choice must be a list of choice strings here")
        out["choices"] = [str(c) for c in choices]
        # lm-eval: an integer target indexes the choices; a few-shot example shows that choice.
        inner = target[2:-2].strip()
        out["target"] = f"{{{{ {[str(c) for c in choices]!r}[{inner}] }}}}"
    else:
        out["target"] = target
    fc = d.get("fewshot_config") or {}
    sampler = fc.get("sampler", "default")
    if sampler not in ("default", "first_n") or set(fc) - {"sampler"}:
        raise LMForgeError(f"{where}: fewshot_config {fc!r}: only sampler first_n or default")
    shots: dict[str, Any] = {
        "k": int(d.get("num_fewshot", 0)),
        "sampler": "first_n" if sampler == "first_n" else "random",
        "separator": d.get("fewshot_delimiter", "\n\n"),
    }
    pool = d.get("fewshot_split")
    if pool is not None:
        if pool not in files:
            raise LMForgeError(f"{where}: fewshot_split {pool!r} has no data_files entry")
        shots["data"] = {"path": str(files[pool]), "format": out["data"]["format"]}
    out["fewshot"] = shots
    metrics = [m.get("metric") for m in d.get("metric_list") or [] if isinstance(m, dict)]
    if metrics:
        out["metrics"] = metrics
    gen = d.get("generation_kwargs") or {}
    if "until" in gen:
        out["stop"] = list(gen["until"])
    if "max_gen_toks" in gen:
        out["max_new_tokens"] = int(gen["max_gen_toks"])
    if gen.get("do_sample") is False:
        out["temperature"] = 0.0
    elif "temperature" in gen:
        out["temperature"] = float(gen["temperature"])
    return out
