"""Eval backends on the same work: lmforge's engine against transformers, alternating.

Runs the shipped generation tasks (HumanEval greedy pass@1, GSM8K 5-shot) on the default model
with each backend in turn (A B A B ...), prints each run's wall-clock, scores with bootstrap
intervals, whether the two backends' outputs are identical, and the hf/engine time ratio.

    .venv/bin/python bench/eval.py --humaneval 164 --gsm8k 50 --rounds 1 --threads 2
"""

import argparse
import json
import time

import torch

from lmforge.eval.backends import make_backend
from lmforge.eval.runner import run_task
from lmforge.eval.taskspec import load_task


def outputs(result: dict) -> list:
    if result["kind"] == "code":
        return [s["completion"] for it in result["items"] for s in it["samples"]]
    return [it["output"] for it in result["items"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--humaneval", type=int, default=16, help="problems (164 = all)")
    ap.add_argument("--gsm8k", type=int, default=16, help="problems (1319 = all)")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds per backend")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", default=None, help="write all results as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    backends = {
        k: make_backend(k, args.model, batch_size=args.batch_size) for k in ("hf", "engine")
    }
    print(f"torch threads: {torch.get_num_threads()}, batch size {args.batch_size}")
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
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
