"""Latency of `POST /v1/rag/ask` with the self-check on vs off, through a real `lmforge serve`.

    flock /tmp/lmforge-bench.lock env OMP_NUM_THREADS=2 .venv/bin/python -u bench/rag_route.py \
        --verifier-path /tmp/verifier --questions 30 --judges nli,generator,generator-json

The corpus is the shipped grounding set's own passages (one markdown file per GSM8K item of
src/lmforge/eval/tasks/data/grounding.jsonl), indexed once into a temporary directory; the
questions are those items' questions. One server per judge, started as a subprocess on the
default model: `nli` (the in-project cross-encoder), `generator` (the served model asked each
claim as a follow-up turn to its own answer: the answer's prompt is still in the prefix cache,
the verdict is one yes/no token, all claims in one batch) and `generator-json` (the served model
asked per claim and premise for a JSON-schema verdict, the judge before that change). Each
question is asked with `self_check: off` and with `self_check: drop`, back to back, so both
modes see the same background load; the order alternates per question, because the second ask of
a prompt finds its KV blocks in the engine's prefix cache. One warm-up pair first is not
counted. Reported per judge and mode: latency p50 / p95 / mean (wall clock, client side), and
for drop the verification time the route itself reports (`metadata.self_check.verify_s`) and the
p50 ratio drop / off.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder
from lmforge.rag.index import build_index
from serve import free_port, wait_up  # bench/ is on sys.path

DATA = Path(__file__).resolve().parents[1] / "src/lmforge/eval/tasks/data/grounding.jsonl"


def corpus(root: Path, n: int) -> list[str]:
    """Write the first `n` items' passages as documents; return their questions."""
    items = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines()][:n]
    (root / "docs").mkdir(parents=True)
    for it in items:
        (root / "docs" / f"{it['id']}.md").write_text(f"# {it['id']}\n\n{it['contexts'][0]}\n")
    return [it["question"] for it in items]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def summary(xs: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(pct(xs, 0.5), 3),
        "p95_s": round(pct(xs, 0.95), 3),
        "mean_s": round(statistics.fmean(xs), 3),
    }


def run_judge(judge: str, root: Path, args: argparse.Namespace, questions: list[str]) -> dict:
    yaml = root / f"rag-{judge}.yaml"
    lines = [f"index: {root / 'index'}", "top_k: 3", f"max_new_tokens: {args.max_tokens}"]
    lines.append(f"verifier: {judge}")
    if judge == "nli":
        lines.append(f"verifier_path: {args.verifier_path}")
    yaml.write_text("\n".join(lines) + "\n")
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, "-m", "lmforge.cli", "serve", "--port", str(port), "--no-embeddings"]
    cmd += ["--rag-config", str(yaml), "--self-check", "drop", "--runs-dir", str(root / "runs")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    lat: dict[str, list[float]] = {"off": [], "drop": []}
    verify_s: list[float] = []
    unsupported = claims = unparseable = 0
    try:
        wait_up(url, proc, "/health")
        with httpx.Client(base_url=url, timeout=600) as client:
            for i, q in enumerate([questions[0], *questions]):
                for mode in ("off", "drop") if i % 2 else ("drop", "off"):
                    t = time.perf_counter()
                    r = client.post("/v1/rag/ask", json={"question": q, "self_check": mode})
                    spent = time.perf_counter() - t
                    assert r.status_code == 200, r.text
                    if i == 0:
                        continue  # warm-up pair
                    lat[mode].append(spent)
                    report = r.json()["metadata"]["self_check"]
                    if mode == "drop" and report is not None:
                        verify_s.append(report["verify_s"])
                        claims += report["claims"]
                        unsupported += report["unsupported"]
                        verdicts = [v for rd in report["rounds"] for v in rd["verdicts"]]
                        unparseable += sum(v["status"] == "unparseable" for v in verdicts)
    finally:
        proc.terminate()
        proc.wait(30)
    out = {mode: summary(xs) for mode, xs in lat.items()}
    out["drop"] |= {"verify_p50_s": round(pct(verify_s, 0.5), 4) if verify_s else 0.0}
    out["p50_ratio_drop_off"] = round(out["drop"]["p50_s"] / out["off"]["p50_s"], 3)
    out |= {"claims": claims, "unsupported": unsupported, "unparseable": unparseable}
    print(f"{judge:10s} {json.dumps(out)}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verifier-path", type=Path, required=True)
    ap.add_argument("--questions", type=int, default=30)
    ap.add_argument("--judges", default="nli,generator,generator-json")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    res: dict = {"threads": args.threads, "load_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="lmforge-rag-route-") as tmp:
        root = Path(tmp)
        questions = corpus(root, args.questions)
        cfg = RagConfig(docs=[root / "docs"], index=root / "index")
        build_index(cfg, Embedder())
        for judge in args.judges.split(","):
            res[judge] = run_judge(judge, root, args, questions)
    res["load_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(res), flush=True)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
