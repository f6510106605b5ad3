"""Function calling on BFCL (simple_python, multiple) through `lmforge serve`: constrained vs free.

    python3.11 -m venv /root/.cache/lmforge/bfcl-venv
    /root/.cache/lmforge/bfcl-venv/bin/pip install --no-deps bfcl-eval==2026.3.23
    flock /tmp/lmforge-bench.lock python bench/bfcl.py [--limit 100] [--threads 1] [--out FILE]

Both modes send the same prompt (the server's fallback tool prompt: the functions as JSON
Schemas in the system message, the <tool_call> format) to a real `lmforge serve` subprocess on the
default model, greedy:

- constrained: `tools` + `tool_choice: "required"` (one call, arguments under the function's
  schema); the call comes back in `message.tool_calls`;
- unconstrained: the same messages without `tools`; the call is parsed out of the text
  (<tool_call> JSON, a bare {"name", "arguments"} object, or a Python call `f(a=1)`), and a reply
  with none of these counts as unparsable.

Scoring is BFCL's own AST checker (bench/bfcl_check.py, in the bench-only venv), accuracy with
95% bootstrap intervals, and the paired constrained - free difference. BFCL's types are mapped
to JSON Schema as its OpenAI handler does (dict -> object, float -> number, tuple -> array, any ->
no type), and "." in function names becomes "_" on the wire and is mapped back for checking.
"""

import argparse
import ast
import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai

from lmforge.eval.stats import bootstrap_ci, paired_bootstrap
from lmforge.serve.tools import chat_messages, scan_calls

VENV = Path("/root/.cache/lmforge/bfcl-venv")
CATEGORIES = {"simple_python": "BFCL_v4_simple_python.json", "multiple": "BFCL_v4_multiple.json"}
TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": None}
KEY = "bfcl-bench"


def to_schema(p: Any) -> Any:
    """A BFCL parameter schema as JSON Schema (its OpenAI handler's type mapping)."""
    if isinstance(p, list):
        return [to_schema(x) for x in p]
    if not isinstance(p, dict):
        return p
    out = {k: to_schema(v) for k, v in p.items() if k not in ("properties", "items", "type")}
    if "type" in p:
        t = TYPES.get(p["type"], p["type"])
        if t is not None:
            out["type"] = t
    if isinstance(p.get("properties"), dict):
        out["properties"] = {k: to_schema(v) for k, v in p["properties"].items()}
    if "items" in p:
        out["items"] = to_schema(p["items"])
    return out


def wire(name: str) -> str:
    return re.sub(r"\.", "_", name)


def load(data_dir: Path, category: str, limit: int | None) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in (data_dir / CATEGORIES[category]).read_text().splitlines()]
    answers = {
        r["id"]: r["ground_truth"]
        for r in map(
            json.loads,
            (data_dir / "possible_answer" / CATEGORIES[category]).read_text().splitlines(),
        )
    }
    if limit and limit < len(rows):  # an even spread over the file (it is ordered by domain)
        rows = [rows[round(i * len(rows) / limit)] for i in range(limit)]
    for r in rows:
        r["category"], r["possible_answer"] = category, answers[r["id"]]
        r["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": wire(f["name"]),
                    "description": f.get("description", ""),
                    "parameters": to_schema(f["parameters"]),
                },
            }
            for f in r["function"]
        ]
    return rows


def parse_text(text: str) -> list[tuple[str, dict[str, Any]]] | None:
    """Calls in a free reply: <tool_call> blocks, a bare JSON call, or Python call syntax."""
    calls = [(n, json.loads(a)) for n, a, done in scan_calls(text) if done]
    if calls:
        return calls
    dec = json.JSONDecoder()
    for m in re.finditer(r"[{\[]", text):
        try:
            value, _ = dec.raw_decode(text[m.start() :])
        except ValueError:
            continue
        items = value if isinstance(value, list) else [value]
        got = [
            (c["name"], c.get("arguments", c.get("parameters")))
            for c in items
            if isinstance(c, dict) and isinstance(c.get("name"), str)
        ]
        if got and all(isinstance(a, dict) for _, a in got):
            return got  # type: ignore[return-value]
    for line in text.splitlines():
        try:
            node = ast.parse(line.strip().strip("`"), mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Call) and node.keywords and not node.args:
            try:
                args = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            except ValueError:
                continue
            return [(ast.unparse(node.func), args)]
    return None


def ask(client: openai.OpenAI, row: dict[str, Any], mode: str, max_tokens: int) -> dict[str, Any]:
    names = {wire(f["name"]): f["name"] for f in row["function"]}
    conv = [{"role": m["role"], "content": m["content"]} for m in row["question"][0]]
    text, calls = "", None
    if mode == "constrained":
        out = client.chat.completions.create(
            model="default",
            messages=conv,
            tools=row["tools"],
            tool_choice="required",
            parallel_tool_calls=False,
            temperature=0,
            max_tokens=max_tokens,
        )
        msg = out.choices[0].message
        try:  # a call cut off by max_tokens ("length") has unterminated arguments
            calls = [(c.function.name, json.loads(c.function.arguments)) for c in msg.tool_calls]
        except (TypeError, ValueError):
            calls = None
        text = msg.content or json.dumps([c.model_dump() for c in msg.tool_calls or []])
    else:
        fns = [t["function"] for t in row["tools"]]
        msgs = chat_messages(
            [{**m, "tool_calls": []} for m in conv], fns, native=False, parallel=False
        )
        out = client.chat.completions.create(
            model="default", messages=msgs, temperature=0, max_tokens=max_tokens
        )
        text = out.choices[0].message.content or ""
        calls = parse_text(text)
    output = None if calls is None else [{names.get(n, n): a} for n, a in calls]
    return {
        "id": row["id"],
        "mode": mode,
        "category": row["category"],
        "function": row["function"],
        "possible_answer": row["possible_answer"],
        "model_output": output,
        "text": text[:400],
        "finish_reason": out.choices[0].finish_reason,
    }


def start_server(threads: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "lmforge.cli",
        "serve",
        "--model",
        "default",
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--api-key",
        KEY,
        "--max-num-seqs",
        "8",
        "--kv-cache",
        "0.5",
        "--no-embeddings",
        "--served-model-name",
        "default",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"lmforge serve exited with {proc.returncode}: {' '.join(cmd)}")
        time.sleep(0.5)
    raise SystemExit("lmforge serve did not come up in 300 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=100, help="items per category (0 = all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("/tmp/lmforge-bfcl.json"))
    ap.add_argument("--resume", action="store_true", help="keep the calls already in OUT.calls")
    a = ap.parse_args()
    py = VENV / "bin" / "python"
    if not py.exists():
        raise SystemExit(f"{py} missing: create the bench venv (see this file's docstring)")
    data_dir = (
        Path(
            subprocess.check_output(
                [py, "-c", "import bfcl_eval, os; print(os.path.dirname(bfcl_eval.__file__))"],
                text=True,
            ).strip()
        )
        / "data"
    )
    rows = [r for c in CATEGORIES for r in load(data_dir, c, a.limit or None)]
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    calls = a.out.with_suffix(".calls.jsonl")
    if a.resume and not calls.exists():
        raise SystemExit(f"--resume: {calls} does not exist; run once without --resume")
    proc, url = start_server(a.threads)
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=600)
        # Each item's two modes back to back, the calls file appended as answers come in: a run
        # cut short still has paired results, and --resume skips what it already holds.
        jobs = [(r, m) for r in rows for m in ("constrained", "unconstrained")]
        results = [json.loads(x) for x in calls.read_text().splitlines()] if a.resume else []
        have = {(r["id"], r["mode"]) for r in results}
        jobs = [j for j in jobs if (j[0]["id"], j[1]) not in have]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.concurrency) as pool, calls.open("a" if a.resume else "w") as f:
            for n, res in enumerate(
                pool.map(lambda j: ask(client, j[0], j[1], a.max_tokens), jobs), 1
            ):
                results.append(res)
                f.write(json.dumps(res) + "\n")
                f.flush()
                if n % 20 == 0 or n == len(jobs):
                    print(f"{n}/{len(jobs)} {time.perf_counter() - t0:.0f}s", flush=True)
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(30)
    env = {**os.environ, "PYTHONPATH": ""}
    verdicts = [
        json.loads(x)
        for x in subprocess.check_output(
            [py, str(Path(__file__).parent / "bfcl_check.py"), str(calls)], text=True, env=env
        ).splitlines()
    ]
    ok = {(v["id"], v["mode"]): float(v["valid"]) for v in verdicts}
    report: dict[str, Any] = {
        "limit_per_category": a.limit,
        "threads": a.threads,
        "loadavg_start": load_start,
        "wall_s": round(wall, 1),
    }
    for cat in [*CATEGORIES, "all"]:
        ids = [r["id"] for r in rows if cat in ("all", r["category"])]
        assert all((i, m) in ok for i in ids for m in ("constrained", "unconstrained"))
        c = [ok[(i, "constrained")] for i in ids]
        u = [ok[(i, "unconstrained")] for i in ids]
        diff = paired_bootstrap(u, c)  # constrained - unconstrained
        report[cat] = {
            "n": len(ids),
            "constrained": bootstrap_ci(c).to_dict(),
            "unconstrained": bootstrap_ci(u).to_dict(),
            "difference": diff.to_dict() if hasattr(diff, "to_dict") else diff,
            "unparsable": {
                m: sum(
                    r["model_output"] is None
                    for r in results
                    if r["mode"] == m and r["id"] in set(ids)
                )
                for m in ("constrained", "unconstrained")
            },
        }
        print(cat, json.dumps(report[cat]), flush=True)
    report["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    a.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
