"""The pipeline's HTML report: one self-contained page per pipeline run.

Sections, always present so a reader (and the browser test) finds each in the same place: the
stage summary, the data funnel, training loss curves, evaluation scores (base vs tuned, with
confidence intervals), retrieval metrics, and serving latency/throughput. Each section reads the
metrics its stages recorded in their manifests, in the shapes the built-in kinds log:

    data            steps: {step: {in, kept, dropped: {reason: n}}}; outputs role "rejected"
    train.*         history: [{step, loss, eval_loss?, ...}]
    eval            scores: {"task/metric": {value, low, high}}, label
    eval.gain       comparison: [{task, metric, a, b, delta, low, high, p_value, n}], sentence
    rag.eval        retrieval: {benchmark: {method: {recall@k.., mrr, ndcg@10}}}
    rag.ask         answers: [{question, answer, citations, sources: [{n, source, headings}]}]
    bench.serve     levels: [{concurrency, tok_per_s, ttft_p50_ms, itl_p50_ms, ...}], demo

The sentence of an eval.gain stage (what improved, by how much, with its interval) opens the
page; each drop reason of the data funnel unfolds to the documents it dropped.
"""

import html
import json
from pathlib import Path
from typing import Any

from lmforge.files import atomic_write_text
from lmforge.pipeline import plots
from lmforge.runs import load_manifest

SECTIONS = ("summary", "data", "training", "evaluation", "retrieval", "serving")
STYLE = (
    "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "font-size:13px}th{background:#f4f4f4}section{margin-bottom:2.5em}.empty{color:#888}"
    ".headline{font-size:17px;background:#eef5fc;border-left:4px solid #2e86c1;padding:.6em}"
    "details{margin:.2em 0}.sample{font-size:12px;border-bottom:1px solid #eee;padding:2px 0}"
)
SAMPLES = 5  # rejected documents shown per drop reason


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _empty(what: str) -> str:
    return f"<p class='empty'>No {what} stage in this pipeline.</p>"


def summary_section(pipeline: dict[str, Any], stages: list[dict[str, Any]]) -> str:
    rows = [[s["name"], s["kind"], s["status"], s["run"], s["seconds"]] for s in stages]
    total = pipeline["timings"].get("total_s", 0.0)
    return (
        f"<p>Pipeline run <code>{html.escape(pipeline['id'])}</code>, status "
        f"<b>{html.escape(pipeline['status'])}</b>, {total:.1f} s.</p>"
        + _table(["stage", "kind", "status", "run", "seconds"], rows)
    )


def rejected_by_reason(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Up to SAMPLES texts per drop reason, from the data run's rejected/ folder."""
    out: dict[str, list[str]] = {}
    for o in manifest.get("outputs", []):
        d = Path(o["path"])
        if o["role"] != "rejected" or not d.is_dir():
            continue
        for f in sorted(d.glob("*.jsonl")):
            for line in f.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                texts = out.setdefault(r["reason"], [])
                if len(texts) < SAMPLES:
                    texts.append(r["text"][:400])
    return out


def _reasons(reasons: list[list[Any]], samples: dict[str, list[str]]) -> str:
    rows = []
    for step, reason, n in reasons:
        shown = samples.get(reason, [])
        body = "".join(f"<div class='sample'>{html.escape(t)}</div>" for t in shown)
        cell = (
            f"<details><summary>{html.escape(reason)}</summary>{body}</details>"
            if shown
            else html.escape(reason)
        )
        rows.append(f"<tr><td>{html.escape(step)}</td><td>{cell}</td><td>{n}</td></tr>")
    head = "<tr><th>step</th><th>drop reason (click for samples)</th><th>documents</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def data_section(manifests: list[dict[str, Any]]) -> str:
    parts = []
    for m in manifests:
        steps = m["metrics"].get("steps") or {}
        names = list(steps)
        kept = [steps[n]["kept"] for n in names]
        dropped = [  # a redaction counts under its step's reasons but drops nothing
            sum(c for r, c in steps[n]["dropped"].items() if not r.startswith("redacted"))
            for n in names
        ]
        reasons = [[n, r, c] for n in names for r, c in sorted(steps[n]["dropped"].items())]
        parts.append(f"<h3>{html.escape(m['label'])}</h3>")
        parts.append(plots.funnel(names, kept, dropped))
        parts.append(
            _table(["step", "in", "kept"], [[n, steps[n]["in"], steps[n]["kept"]] for n in names])
        )
        if reasons:
            parts.append(_reasons(reasons, rejected_by_reason(m)))
    return "".join(parts) or _empty("data")


def training_section(manifests: list[dict[str, Any]]) -> str:
    parts = []
    for m in manifests:
        hist = m["metrics"].get("history") or []
        series = {}
        for key in ("loss", "eval_loss"):
            pts = [(h["step"], h[key]) for h in hist if key in h]
            if pts:
                series[key] = ([p[0] for p in pts], [p[1] for p in pts])
        parts.append(f"<h3>{html.escape(m['label'])}</h3>")
        if series:
            parts.append(plots.lines(series, "step", "loss"))
        head = {k: v for k, v in m["metrics"].items() if isinstance(v, int | float)}
        parts.append(_table(["metric", "value"], [[k, v] for k, v in head.items()]))
    return "".join(parts) or _empty("training")


def gain_section(manifests: list[dict[str, Any]]) -> str:
    parts = []
    for m in manifests:
        rows = m["metrics"].get("comparison") or []
        parts.append(f"<p class='headline'>{html.escape(m['metrics'].get('sentence', ''))}</p>")
        parts.append(
            _table(
                ["task", "metric", "base", "tuned", "delta", "95% CI", "p", "n"],
                [
                    [
                        r["task"],
                        r["metric"],
                        r["a"],
                        r["b"],
                        r["delta"],
                        f"[{r['low']:.3f}, {r['high']:.3f}]",
                        r["p_value"],
                        r["n"],
                    ]
                    for r in rows
                ],
            )
        )
    return "".join(parts)


def evaluation_section(manifests: list[dict[str, Any]], gains: list[dict[str, Any]]) -> str:
    scored = [m for m in manifests if m["metrics"].get("scores")]
    if not scored:
        return _empty("evaluation")
    labels = sorted({k for m in scored for k in m["metrics"]["scores"]})
    groups, rows = {}, []
    for m in scored:
        sc = m["metrics"]["scores"]
        nan = (float("nan"),) * 3
        groups[m["label"]] = [
            (sc[k]["value"], sc[k]["low"], sc[k]["high"]) if k in sc else nan for k in labels
        ]
        rows += [
            [m["label"], k, sc[k]["value"], f"[{sc[k]['low']:.3f}, {sc[k]['high']:.3f}]"]
            for k in labels
            if k in sc
        ]
    return (
        gain_section(gains)
        + plots.intervals(labels, groups)
        + _table(["model", "task/metric", "score", "95% CI"], rows)
    )


def answers_section(manifests: list[dict[str, Any]]) -> str:
    parts = []
    for m in manifests:
        for a in m["metrics"].get("answers") or []:
            cited = [
                f"<li>[{s['n']}]{'*' if s['n'] in a['citations'] else ''} "
                f"{html.escape(s['source'])} {html.escape(' > '.join(s['headings']))}</li>"
                for s in a.get("sources", [])
            ]
            parts.append(
                f"<p><b>Q:</b> {html.escape(a['question'])}<br><b>A:</b> "
                f"{html.escape(a['answer'])}</p><ul>{''.join(cited)}</ul>"
            )
    return "".join(parts)


def retrieval_section(manifests: list[dict[str, Any]], asks: list[dict[str, Any]]) -> str:
    parts = [answers_section(asks)] if asks else []
    for m in manifests:
        for bench, methods in (m["metrics"].get("retrieval") or {}).items():
            cols = sorted({c for v in methods.values() for c in v})
            parts.append(f"<h3>{html.escape(bench)}</h3>")
            parts.append(
                _table(
                    ["method", *cols],
                    [[meth, *[v.get(c, "") for c in cols]] for meth, v in methods.items()],
                )
            )
    return "".join(parts) or _empty("retrieval")


def serving_section(manifests: list[dict[str, Any]]) -> str:
    parts = []
    for m in manifests:
        levels = m["metrics"].get("levels") or []
        if not levels:
            continue
        tput = [lv["tok_per_s"] for lv in levels]
        parts.append(
            plots.lines(
                {
                    "TTFT p50": (tput, [lv["ttft_p50_ms"] for lv in levels]),
                    "ITL p50": (tput, [lv["itl_p50_ms"] for lv in levels]),
                },
                "output tokens/s",
                "latency (ms)",
                "latency vs throughput (one point per concurrency)",
            )
        )
        cols = [
            "concurrency",
            "tok_per_s",
            "req_per_s",
            "ttft_p50_ms",
            "ttft_p99_ms",
            "itl_p50_ms",
            "itl_p99_ms",
            "errors",
        ]
        parts.append(_table(cols, [[lv.get(c, "") for c in cols] for lv in levels]))
        demo = m["metrics"].get("demo") or []
        if demo:
            parts.append("<h3>The served model answering</h3>")
            parts.append(
                _table(
                    ["prompt", "answer", "seconds"],
                    [[d["prompt"], d["answer"], d["seconds"]] for d in demo],
                )
            )
    return "".join(parts) or _empty("serving benchmark")


def build_report(pipeline_dir: Path, stages: list[dict[str, Any]]) -> Path:
    """Write `report.html` into the pipeline's run directory and return its path.

    `stages` are dicts with name, kind, status, run, seconds (the pipeline manifest's list).
    """
    pipeline = load_manifest(pipeline_dir)
    root = pipeline_dir.parent
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for s in stages:
        m = load_manifest(root / s["run"])
        m["label"] = m["metrics"].get("label") or s["name"]
        by_kind.setdefault(
            s["kind"].split(".")[0] if s["kind"].startswith("train.") else s["kind"], []
        ).append(m)
    sections = {
        "summary": ("Summary", summary_section(pipeline, stages)),
        "data": ("Data funnel", data_section(by_kind.get("data", []))),
        "training": ("Training", training_section(by_kind.get("train", []))),
        "evaluation": (
            "Evaluation: base vs tuned",
            evaluation_section(by_kind.get("eval", []), by_kind.get("eval.gain", [])),
        ),
        "retrieval": (
            "Retrieval",
            retrieval_section(by_kind.get("rag.eval", []), by_kind.get("rag.ask", [])),
        ),
        "serving": ("Serving", serving_section(by_kind.get("bench.serve", []))),
    }
    body = "".join(
        f"<section id='{key}'><h2>{title}</h2>{content}</section>"
        for key, (title, content) in sections.items()
    )
    title = f"lmforge report: {pipeline['config'].get('name', 'pipeline')}"
    headline = "".join(
        f"<p class='headline'><b>What improved:</b> {html.escape(m['metrics']['sentence'])}</p>"
        for m in by_kind.get("eval.gain", [])
        if m["metrics"].get("sentence")
    )
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{headline}{body}</body></html>\n"
    )
    return atomic_write_text(pipeline_dir / "report.html", page)
