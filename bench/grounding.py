"""Grounding bench: hallucination detection on the shipped labelled set, and the self-check loop.

    flock /tmp/lmforge-bench.lock env OMP_NUM_THREADS=2 .venv/bin/python -u bench/grounding.py \
        --verifier-path ~/.cache/lmforge/verifier --threads 2 --gen-limit 40

1. Detection (sentence level; positive class = unsupported) on a 330-item set, `--set
   paraphrased` (the default: every sentence rewritten, planted claims from the passage's own
   words, grounding_paraphrased.jsonl) or `--set verbatim` (grounding.jsonl). The items are split
   once, seeded and stratified by planted / clean, into a dev half and a test half. Every
   threshold is chosen on dev (best F1); every figure is on test, with 95% bootstrap CIs over
   test items. Every verifier sees the same premises:
   - nli: the in-project cross-encoder (`lmforge rag train-verifier`), and `--baseline-verifier`
     (an older one, e.g. trained with `--data verbatim`) under the same protocol;
   - nli+consistency: the same, plus numbers/names absent from the premise mark a claim
     unsupported (what `rag ask --self-check` uses by default, `verifier_checks`);
   - "@0.5" rows: the same scores at the fixed threshold 0.5 (`rag ask`'s old default);
   - "@shipped" rows: at the threshold `train-verifier` chose on the same dev half and wrote
     into the verifier's `lmforge-verifier.json` (what `rag ask` now uses by default);
   - overlap: share of the claim's content tokens in the premise (baseline);
   - generator free text: SmolLM2-135M asked "supported? yes or no", reply parsed (baseline),
     on the first `--gen-limit` test items;
   - generator constrained: asked for a JSON verdict, decoded under `VERDICT_SCHEMA` (engine);
   - generator in-answer choice: `rag ask`'s generator judge, each claim a follow-up turn to
     (`rag ask`'s prompt, the item's answer), verdict one `yes` | `no` token (engine).
   F1, precision, recall, balanced accuracy, share flagged per planted kind, unparseable.
2. Self-check on the labelled set, policy drop: share of unsupported claims removed, share of
   supported claims kept (no regeneration needed: verdicts are per claim).
3. Self-check on live answers (`--answers N`): the engine answers N questions from their
   contexts; the loop (policy regenerate, at most one regeneration) is timed against the
   answer's generation.
"""

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from lmforge.rag.answer import ANSWER_PROMPT, NOT_IN_DOCS
from lmforge.rag.claims import split_claims
from lmforge.rag.selfcheck import SelfCheck
from lmforge.rag.verifier_calibrate import SETS, f1_of, flatten, pick_threshold, split_items
from lmforge.rag.verifier_calibrate import load_set as load
from lmforge.rag.verify import (
    ConsistencyVerifier,
    GeneratorVerifier,
    NLIVerifier,
    OverlapVerifier,
    verifier_manifest,
)


def detection(pred_supported: list[bool], labels: list[int], kinds: list[str]) -> dict:
    tp = sum(not p and y == 0 for p, y in zip(pred_supported, labels, strict=True))
    fp = sum(not p and y == 1 for p, y in zip(pred_supported, labels, strict=True))
    fn = sum(p and y == 0 for p, y in zip(pred_supported, labels, strict=True))
    tn = sum(p and y == 1 for p, y in zip(pred_supported, labels, strict=True))
    prec, rec = tp / max(1, tp + fp), tp / max(1, tp + fn)
    by_kind = {}
    for k in sorted(set(kinds)):
        idx = [i for i, x in enumerate(kinds) if x == k]
        flagged = sum(not pred_supported[i] for i in idx)
        by_kind[k] = round(flagged / len(idx), 3)  # share flagged unsupported
    return {
        "f1": round(2 * prec * rec / max(1e-9, prec + rec), 4),
        "precision": round(prec, 4),
        "recall": round(rec, 4),
        "balanced_acc": round((rec + tn / max(1, tn + fp)) / 2, 4),
        "supported_kept": round(tn / max(1, tn + fp), 4),
        "flagged_by_kind": by_kind,
        "n": len(labels),
    }


class Memo:
    """Scores each (claim, premise) once: the combined verifier reuses the NLI's scores."""

    def __init__(self, inner) -> None:
        self.inner, self.threshold, self.memo = inner, inner.threshold, {}

    def scores(self, claims, premises):
        todo = [(c, p) for c, p in zip(claims, premises, strict=True) if (c, p) not in self.memo]
        if todo:
            got = self.inner.scores([c for c, _ in todo], [p for _, p in todo])
            self.memo.update(zip(todo, got, strict=True))
        return [self.memo[(c, p)] for c, p in zip(claims, premises, strict=True)]


def answer_prompt(it: dict) -> str:
    """`rag ask`'s prompt for the item's question over its contexts."""
    context = "\n\n".join(f"[{i}] {c}" for i, c in enumerate(it["contexts"], 1))
    return ANSWER_PROMPT.format(nodocs=NOT_IN_DOCS, context=context, question=it["question"])


def live_loop(items: list[dict], gen, nli, n: int) -> dict:
    """Engine answers, then self-check (regenerate policy); times and counts."""
    check = SelfCheck(nli, "regenerate")
    gen_s = check_s = regen_s = 0.0
    claims = unsupported = regenerated = refused = after = 0
    for it in items[:n]:
        prompt = answer_prompt(it)
        t = time.perf_counter()
        answer = str(gen.generate(prompt, 128))
        gen_s += time.perf_counter() - t
        res = check.run(answer, it["contexts"], prompt, lambda p: gen.generate(p, 128))
        r = res.report
        check_s += r["verify_s"]
        regen_s += r["regenerate_s"]
        first = r["rounds"][0]["verdicts"]
        claims += len(first)
        unsupported += sum(not v["supported"] for v in first)
        regenerated += r["regenerated"]
        refused += r["refused"]
        after += r["unsupported"] if not r["refused"] else 0
    out = {
        "answers": n,
        "claims": claims,
        "flagged_first_round": unsupported,
        "regenerated": regenerated,
        "refused": refused,
        "still_unsupported_after_regeneration": after,
        "generate_s": round(gen_s, 2),
        "verify_s": round(check_s, 2),
        "regenerate_s": round(regen_s, 2),
        "verify_over_generate": round(check_s / max(1e-9, gen_s), 4),
    }
    print(f"self-check live         {json.dumps(out)}", flush=True)
    return out


def sentence_index(items: list[dict]) -> list[list[int]]:
    """For each item, the positions of its sentences in `flatten(items)`."""
    out, n = [], 0
    for it in items:
        out.append(list(range(n, n + len(it["labels"]))))
        n += len(it["labels"])
    return out


def bootstrap(pred: np.ndarray, y: np.ndarray, groups: list[list[int]], n: int = 2000) -> dict:
    """95% percentile CIs for F1 and balanced accuracy, resampling items (their sentences are
    not independent: one planted claim per item)."""
    rng = np.random.default_rng(0)
    f1s, bas = [], []
    for _ in range(n):
        idx = np.concatenate([groups[g] for g in rng.integers(0, len(groups), len(groups))])
        f, b = f1_of(pred[idx], y[idx])
        f1s.append(f)
        bas.append(b)
    q = [2.5, 97.5]
    return {
        "f1_ci95": [round(float(x), 4) for x in np.percentile(f1s, q)],
        "balanced_acc_ci95": [round(float(x), 4) for x in np.percentile(bas, q)],
    }


def held_out(name: str, scores: list, labels, kinds, dev: list[list[int]], test, t=None) -> dict:
    """Threshold chosen on the dev sentences (unless given), figures on the test sentences."""
    s = np.array([-1.0 if x is None else x for x in scores])
    y = np.array(labels)
    d, te = [i for g in dev for i in g], [i for g in test for i in g]
    t = pick_threshold(s[d], y[d]) if t is None else t
    pred = s >= t
    local = [[te.index(i) for i in g] for g in test]
    out = detection(list(pred[te]), list(y[te]), [kinds[i] for i in te])
    out |= {"threshold": t, "dev_f1": round(f1_of(pred[d], y[d])[0], 4) if d else None}
    out |= bootstrap(pred[te], y[te], local) | {"unparseable": sum(x is None for x in scores)}
    print(f"{name:28s} {json.dumps(out)}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verifier-path", type=Path, required=True)
    ap.add_argument("--baseline-verifier", type=Path, default=None, help="an older verifier")
    ap.add_argument("--set", choices=sorted(SETS), default="paraphrased")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gen-limit", type=int, default=40, help="test items for generator verdicts")
    ap.add_argument("--answers", type=int, default=0, help="live answers for the loop timing")
    ap.add_argument("--skip-generator", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, load {os.getloadavg()[0]:.2f}", flush=True)
    items = load(args.set)
    claims, premises, labels, kinds = flatten(items)
    dev_i, test_i = split_items(items)
    groups = sentence_index(items)
    dev, test = [groups[i] for i in dev_i], [groups[i] for i in test_i]
    print(
        f"{len(items)} items ({len(dev_i)} dev, {len(test_i)} test), {len(claims)} sentences,"
        f" {Counter(kinds)}",
        flush=True,
    )
    res: dict = {"set": args.set, "threads": args.threads, "load": round(os.getloadavg()[0], 2)}
    res |= {"dev_items": len(dev_i), "test_items": len(test_i), "test": {}}
    verifiers = [("nli", args.verifier_path)]
    if args.baseline_verifier:
        verifiers.append(("nli (baseline verifier)", args.baseline_verifier))
    for name, path in verifiers:
        memo = Memo(NLIVerifier(path, threshold=0.5))  # every threshold is applied below
        shipped = verifier_manifest(path)  # train-verifier's own dev choice, if it made one
        pairs = ((name, memo, "threshold_no_checks"),)
        pairs += ((f"{name}+consistency", ConsistencyVerifier(memo), "threshold"),)
        for label, v, key in pairs:
            sc = v.scores(claims, premises)
            res["test"][label] = held_out(label, sc, labels, kinds, dev, test)
            res["test"][f"{label} @0.5"] = held_out(
                f"{label} @0.5", sc, labels, kinds, [], test, 0.5
            )
            if key in shipped:  # what `rag ask` uses by default
                res["test"][f"{label} @shipped"] = held_out(
                    f"{label} @shipped", sc, labels, kinds, [], test, shipped[key]
                )
    sc = OverlapVerifier().scores(claims, premises)
    res["test"]["overlap"] = held_out("overlap", sc, labels, kinds, dev, test)
    for name in ("nli", "nli+consistency"):  # policy drop removes exactly the flagged claims
        r = res["test"][name]
        res[f"self_check_drop ({name}, test)"] = {
            "unsupported_removed": r["recall"],
            "supported_kept": r["supported_kept"],
        }
    if not args.skip_generator:
        from lmforge.rag.generate import EngineGenerator

        gen = EngineGenerator("default")
        sub_items = [items[i] for i in test_i[: args.gen_limit]]
        sub = flatten(sub_items)
        sub_groups = sentence_index(sub_items)
        for name, constrained in (("generator free text", False), ("generator constrained", True)):
            t0 = time.perf_counter()
            sc = GeneratorVerifier(gen, constrained).scores(sub[0], sub[1])
            r = held_out(name, sc, sub[2], sub[3], [], sub_groups, 0.5)
            res["test"][name] = r | {"seconds": round(time.perf_counter() - t0, 1)}
        t0 = time.perf_counter()
        judge, sc = GeneratorVerifier(gen), []
        for it in sub_items:  # the `rag ask` judge: each claim a follow-up turn to the answer
            parts = split_claims(it["answer"])
            sc += judge.scores_in_answer(
                [c.text for c in parts], ["" for _ in parts], answer_prompt(it), it["answer"]
            )
        name = "generator in-answer choice"
        r = held_out(name, sc, sub[2], sub[3], [], sub_groups, 0.5)
        res["test"][name] = r | {"seconds": round(time.perf_counter() - t0, 1)}
        if args.answers:
            t = res["test"]["nli+consistency"]["threshold"]
            nli = ConsistencyVerifier(NLIVerifier(args.verifier_path, threshold=t))
            res["self_check_live"] = live_loop(items, gen, nli, args.answers)
    print(f"load {os.getloadavg()[0]:.2f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
