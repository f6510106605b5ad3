"""Benchmark: lmforge's agent on its own tool-use suite (and AgentDojo, bench/agent_dojo.py).

The suite (seeded, every answer checkable, nothing hard-coded): arithmetic with `python`
(a*b+c on 3-4 digit numbers), look-up with `retrieve` over a corpus of made-up facts the
model cannot know (indexed with lmforge rag), and file edits with `files` (create a file with
given text; replace a word in a file). Each task's agent is granted only the tool it needs.
Success rate with a bootstrap 95% CI, per kind and overall.

Peer: the same model through the same endpoint answering without tools (what a user gets
from plain chat), on the arithmetic and look-up tasks; ratios are printed. File tasks cannot
be done without a tool, so the peer scores 0 there by construction and is not run.

The model is served by `lmforge serve` (a subprocess on a free port) and driven over the
OpenAI API, as a user would:

    flock /tmp/lmforge-bench.lock python bench/agent.py --model default --threads 2
    flock /tmp/lmforge-bench.lock python bench/agent.py --model qwen --per-kind 6 --threads 2
"""

import argparse
import fcntl
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from lmforge.agent import Agent, AgentConfig
from lmforge.agent.client import ChatClient
from lmforge.eval.stats import bootstrap_ci

ADJ = [
    "amber",
    "brisk",
    "cobalt",
    "dusky",
    "ember",
    "frosty",
    "gilded",
    "hollow",
    "ivory",
    "jade",
    "keen",
    "lunar",
    "misty",
]
NOUN = [
    "falcon",
    "harbor",
    "lantern",
    "meadow",
    "orchard",
    "quarry",
    "ridge",
    "summit",
    "thicket",
    "valley",
    "willow",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(
    model: str,
    threads: int,
    log: Path,
    quantize: str = "none",
    lock: Path | None = None,
    kv_cache_gb: float | None = None,
) -> tuple[subprocess.Popen, str]:
    """`lmforge serve` on a free port. With `lock`, the bench lock is held only while the server
    loads: loading a 1.5B checkpoint and quantizing it peaks far above its steady size, and on
    a shared box that peak is what must not coincide with other large jobs."""
    if lock is None:
        return _serve(model, threads, log, quantize, kv_cache_gb)
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            return _serve(model, threads, log, quantize, kv_cache_gb)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _serve(
    model: str, threads: int, log: Path, quantize: str, kv_cache_gb: float | None
) -> tuple[subprocess.Popen, str]:
    if model == "qwen":
        from lmforge.models.parts import qwen_coder_gguf

        model = str(qwen_coder_gguf())
    port = free_port()
    cmd = [sys.executable, "-m", "lmforge.cli", "serve", "--model", model, "--port", str(port)]
    cmd += ["--threads", str(threads), "--served-model-name", "m", "--no-embeddings"]
    cmd += ["--quantize", quantize]
    if kv_cache_gb is not None:  # the default cache is sized for many sequences, not one agent
        cmd += ["--kv-cache", str(kv_cache_gb)]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1800):
        if proc.poll() is not None:
            raise SystemExit(f"lmforge serve exited; see {log}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url + "/v1"
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise SystemExit("lmforge serve did not come up in 30 min")


def server_rss_gb(pid: int) -> dict[str, float]:
    """The server's peak (VmHWM) and current (VmRSS) resident size, from /proc."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, val = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = round(int(val.split()[0]) / 1e6, 2)
    except OSError:
        pass
    return out


def make_tasks(per_kind: int, rng: random.Random, root: Path) -> tuple[list[dict], Path]:
    tasks: list[dict] = []
    for _ in range(per_kind):
        a, b, c = rng.randint(100, 9999), rng.randint(100, 999), rng.randint(10, 999)
        tasks.append(
            {
                "kind": "arith",
                "tool": "python",
                "task": f"Use the python tool to compute {a} * {b} + {c}. "
                "Reply with the number only.",
                "expect": str(a * b + c),
            }
        )
    names = [(x, y) for x in ADJ for y in NOUN]
    rng.shuffle(names)
    facts = []
    for i, (x, y) in enumerate(names[: max(per_kind, 40)]):
        code = f"{rng.choice('KLMNPQRSTVWXZ')}{rng.randint(1000, 9999)}"
        facts.append(f"## The {x} {y} vault\n\nThe access code of the {x} {y} vault is {code}.\n")
        if i < per_kind:
            tasks.append(
                {
                    "kind": "lookup",
                    "tool": "retrieve",
                    "task": f"Use the retrieve tool to find the access code of the {x} {y} "
                    "vault. Reply with the code only.",
                    "expect": code,
                }
            )
    corpus = root / "vaults.md"
    corpus.write_text("# Vault registry\n\n" + "\n".join(facts), encoding="utf-8")
    words = ["apple", "river", "copper", "violet", "tiger", "maple", "cloud", "stone"]
    for i in range(per_kind):
        w, v = rng.sample(words, 2)
        if i % 2 == 0:
            tasks.append(
                {
                    "kind": "files",
                    "tool": "files",
                    "task": f"Use the files tool to create the file note{i}.txt containing "
                    f"exactly the word {w}.",
                    "file": f"note{i}.txt",
                    "expect": w,
                }
            )
        else:
            tasks.append(
                {
                    "kind": "files",
                    "tool": "files",
                    "task": f"The workspace file list{i}.txt holds one line. Use the files tool "
                    f"to read it, then write it back with the word {w} replaced by {v}.",
                    "file": f"list{i}.txt",
                    "before": f"buy {w} today",
                    "expect": f"buy {v} today",
                }
            )
    return tasks, corpus


def build_index(corpus: Path, root: Path) -> Path:
    from lmforge.rag.config import RagConfig
    from lmforge.rag.embed import Embedder
    from lmforge.rag.index import build_index as build

    cfg = RagConfig(docs=[corpus], index=root / "index", chunk_size=64)
    build(cfg, Embedder(cfg.embedder, cfg.batch_size))
    return cfg.index


def check(t: dict, answer: str | None, ws: Path) -> bool:
    if t["kind"] == "files":
        f = ws / t["file"]
        return f.is_file() and f.read_text(encoding="utf-8").strip() == t["expect"]
    return t["expect"].lower() in (answer or "").replace(",", "").lower()


def run_agent(t: dict, url: str, index: Path, root: Path, args: argparse.Namespace) -> dict:
    ws = Path(tempfile.mkdtemp(dir=root, prefix="ws-"))
    if "before" in t:
        (ws / t["file"]).write_text(t["before"] + "\n", encoding="utf-8")
    grant = {"write": True, "confirm_writes": False} if t["tool"] == "files" else {}
    cfg = AgentConfig(
        base_url=url,
        model="m",
        tools=[t["tool"]],
        policy={t["tool"]: grant},
        workspace=ws,
        index=index,
        tool_choice="first-required",
        max_steps=args.max_steps,
        max_new_tokens=args.max_new_tokens,
        wall_s=args.wall_s,
        guard={"policy": args.guard_policy},
    )
    with Agent(cfg) as agent:
        r = agent.run(t["task"], run_dir=root / "traces" / f"{len(os.listdir(root))}")
    return {
        "ok": check(t, r.answer, ws),
        "steps": r.steps,
        "tokens": r.tokens,
        "seconds": r.seconds,
        "stop": r.stop_reason,
        "answer": (r.answer or "")[:200],
    }


def run_plain(t: dict, client: ChatClient, args: argparse.Namespace) -> dict:
    task = (
        t["task"]
        .replace("Use the python tool to compute", "Compute")
        .replace("Use the retrieve tool to find", "What is")
    )
    t0 = time.perf_counter()
    r = client.chat(
        [{"role": "user", "content": task}],
        timeout_s=args.wall_s,
        max_tokens=args.max_new_tokens,
        temperature=0,
    )
    answer = r["choices"][0]["message"]["content"] or ""
    return {"ok": check(t, answer, Path()), "seconds": round(time.perf_counter() - t0, 3)}


def ci(rows: list[dict]) -> dict:
    iv = bootstrap_ci([float(r["ok"]) for r in rows], n_boot=2000)
    return {
        "rate": round(iv.value, 3),
        "low": round(iv.low, 3),
        "high": round(iv.high, 3),
        "n": len(rows),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="default", help="default | qwen | a model path")
    ap.add_argument("--per-kind", type=int, default=17, help="tasks per kind (3 kinds)")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--max-steps", type=int, default=4)
    ap.add_argument("--wall-s", type=float, default=300.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quantize", default="none", help="none | int8 | int4 (weight-only, speed)")
    ap.add_argument("--guard-policy", default=None, help="guard YAML (default: shipped policy)")
    ap.add_argument("--out", default=None, help="write the JSON result here")
    ap.add_argument(
        "--lock-load",
        default=None,
        help="hold this lock file (e.g. /tmp/lmforge-bench.lock) while the server loads",
    )
    ap.add_argument("--kv-cache-gb", type=float, default=None, help="server KV cache size")
    ap.add_argument(
        "--tasks",
        default=None,
        help="run only these of the seeded suite, as a Python slice (e.g. 0:17 or ::3)",
    )
    args = ap.parse_args()
    load0 = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="lmforge-agent-bench-"))
    tasks, corpus = make_tasks(args.per_kind, random.Random(args.seed), root)
    index = build_index(corpus, root)
    if args.tasks:
        tasks = tasks[slice(*(int(x) if x else None for x in args.tasks.split(":")))]
    lock = Path(args.lock_load) if args.lock_load else None
    proc, url = serve(
        args.model, args.threads, root / "serve.log", args.quantize, lock, args.kv_cache_gb
    )
    t0 = time.perf_counter()
    try:
        client = ChatClient(url, None, "m")
        rows = []
        for i, t in enumerate(tasks):
            row = {"kind": t["kind"], **run_agent(t, url, index, root, args)}
            if t["kind"] != "files":
                row["plain"] = run_plain(t, client, args)
            rows.append(row)
            print(
                f"[{i + 1}/{len(tasks)}] {t['kind']:6} ok={row['ok']} stop={row['stop']} "
                f"{row['seconds']}s",
                flush=True,
            )
    finally:
        rss = server_rss_gb(proc.pid)
        proc.terminate()
        proc.wait(60)
    kinds = sorted({r["kind"] for r in rows})
    res: dict = {
        "model": args.model,
        "threads": args.threads,
        "tasks": len(rows),
        "max_new_tokens": args.max_new_tokens,
        "max_steps": args.max_steps,
        "quantize": args.quantize,
        "seed": args.seed,
        "task_slice": args.tasks,
        "kv_cache_gb": args.kv_cache_gb,
        "serve_rss_gb": rss,
        "wall_s": round(time.perf_counter() - t0, 1),
        "load_start": load0,
        "load_end": os.getloadavg(),
        "agent": {"all": ci(rows)},
        "plain": {},
    }
    for k in kinds:
        res["agent"][k] = ci([r for r in rows if r["kind"] == k])
        if k != "files":
            res["plain"][k] = ci([r["plain"] for r in rows if r["kind"] == k])
    with_peer = [r for r in rows if "plain" in r]
    res["plain"]["arith+lookup"] = ci([r["plain"] for r in with_peer])
    res["agent"]["arith+lookup"] = ci(with_peer)
    p = res["plain"]["arith+lookup"]["rate"]
    res["ratio_agent_vs_plain"] = round(res["agent"]["arith+lookup"]["rate"] / p, 2) if p else None
    res["mean_steps"] = round(sum(r["steps"] for r in rows) / len(rows), 2)
    res["mean_seconds"] = round(sum(r["seconds"] for r in rows) / len(rows), 2)
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps({**res, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
