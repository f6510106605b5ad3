"""The HTML report: scores with their intervals as inline SVG plots, then per-item samples.

Self-contained (no JavaScript, no network, no plotting dependency): one file you can open from
the run directory or attach to a CI artifact. Plots are interval charts (point and bootstrap
interval per metric, or per paired difference for `eval compare`).
"""

import html
import json
from typing import Any

W, ROW, LEFT, RIGHT = 640, 26, 190, 70


def interval_chart(
    rows: list[tuple[str, float, float, float]], title: str, zero: bool = False
) -> str:
    """Horizontal interval plot: label, point, low, high per row; a zero line for differences."""
    if not rows:
        return ""
    lo = min(min(r[2] for r in rows), 0.0)
    hi = max(max(r[3] for r in rows), 0.0 if zero else 1e-9)
    span = (hi - lo) or 1.0
    plot_w = W - LEFT - RIGHT

    def x(v: float) -> float:
        return LEFT + (v - lo) / span * plot_w

    h = ROW * len(rows) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" role="img">',
        f'<text x="4" y="16" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{x(0):.1f}" y1="24" x2="{x(0):.1f}" y2="{h - 8}" stroke="#999"/>',
    ]
    for i, (label, v, low, high) in enumerate(rows):
        y = 40 + i * ROW
        color = "#c0392b" if zero and high < 0 else "#2e86c1"
        parts += [
            f'<text x="4" y="{y + 4}" font-size="12">{html.escape(label)}</text>',
            f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(high):.1f}" y2="{y}" '
            f'stroke="{color}" stroke-width="3"/>',
            f'<circle cx="{x(v):.1f}" cy="{y}" r="5" fill="{color}"/>',
            f'<text x="{W - RIGHT + 6}" y="{y + 4}" font-size="12">{v:.4g}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def _page(title: str, body: str) -> str:
    style = (
        "body{font-family:sans-serif;max-width:980px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
        "font-size:13px;vertical-align:top}pre{white-space:pre-wrap;margin:0;max-height:12em;"
        "overflow:auto}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def _scores_table(scores: dict[str, dict[str, float]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(m)}</td><td>{s['value']:.4f}</td>"
        f"<td>[{s['low']:.4f}, {s['high']:.4f}]</td><td>{s['n']}</td></tr>"
        for m, s in scores.items()
    )
    return f"<table><tr><th>metric</th><th>score</th><th>CI</th><th>n</th></tr>{rows}</table>"


def _items_table(items: list[dict[str, Any]], limit: int = 25) -> str:
    rows = []
    for it in items[:limit]:
        shown = {k: v for k, v in it.items() if k not in ("id", "scores")}
        text = json.dumps(shown, ensure_ascii=False, indent=1)[:1500]
        scores = ", ".join(f"{k}={v:.3g}" for k, v in it["scores"].items() if isinstance(v, float))
        rows.append(
            f"<tr><td>{html.escape(str(it['id']))}</td><td>{html.escape(scores)}</td>"
            f"<td><pre>{html.escape(text)}</pre></td></tr>"
        )
    more = f"<p>{len(items) - limit} more items in results.json</p>" if len(items) > limit else ""
    return f"<table><tr><th>id</th><th>scores</th><th>record</th></tr>{''.join(rows)}</table>{more}"


def render_results(results: dict[str, Any], title: str) -> str:
    meta = results.get("meta", {})
    body = [f"<p>{html.escape(json.dumps(meta))}</p>"]
    for name, task in results["tasks"].items():
        scores = task["scores"]
        rows = [(m, s["value"], s["low"], s["high"]) for m, s in scores.items()]
        conf = next(iter(scores.values()))["confidence"] if scores else 0.95
        body += [
            f"<h2>{html.escape(name)} <small>({task['kind']}, n={task['n']}, "
            f"{task['wall_s']} s on {html.escape(task['backend'])})</small></h2>",
            interval_chart(rows, f"{name}: score and {conf:.0%} bootstrap interval"),
            _scores_table(scores),
            _items_table(task["items"]),
        ]
    return _page(title, "".join(body))


def render_comparison(comparison: dict[str, Any], title: str) -> str:
    rows = [
        (f"{r['task']}/{r['metric']}", r["delta"], r["low"], r["high"]) for r in comparison["rows"]
    ]
    table = "".join(
        f"<tr><td>{html.escape(r['task'])}</td><td>{html.escape(r['metric'])}</td>"
        f"<td>{r['a']:.4f}</td><td>{r['b']:.4f}</td><td>{r['delta']:+.4f}</td>"
        f"<td>[{r['low']:+.4f}, {r['high']:+.4f}]</td><td>{r['p_value']:.3f}</td>"
        f"<td>{r['n']}</td><td>{'REGRESSION' if r['regression'] else ''}</td></tr>"
        for r in comparison["rows"]
    )
    head = "<tr><th>task</th><th>metric</th><th>A</th><th>B</th><th>B-A</th><th>CI</th>"
    head += "<th>p</th><th>n</th><th></th></tr>"
    return _page(
        title,
        interval_chart(rows, "B - A with paired bootstrap interval", zero=True)
        + f"<table>{head}{table}</table>",
    )
