"""Grounding bench: hallucination detection on the shipped labelled set, and the self-check loop.

    flock /tmp/lmforge-bench.lock env OMP_NUM_THREADS=2 .venv/bin/python -u bench/grounding.py \
        --verifier-path ~/.cache/lmforge/verifier --threads 2 --gen-limit 100 --answers 20

1. Detection (sentence level; positive class = unsupported) on a 330-item set, `--set verbatim`
   (src/lmforge/eval/tasks/data/grounding.jsonl) or `--set paraphrased` (every sentence
   rewritten, planted claims from the passage's own words: grounding_paraphrased.jsonl), every
   verifier on the same premises:
   - nli: the in-project cross-encoder (`lmforge rag train-verifier`);
   - nli+consistency: the same, plus numbers/names absent from the premise mark a claim
     unsupported (what `rag ask --self-check` uses by default, `verifier_checks`);
   - overlap: share of the claim's content tokens in the premise, threshold chosen on the
     verifier's training pairs (never on the evaluation set); also "overlap (best t on this
     set)", its threshold tuned on the evaluation set itself: an upper bound for the baseline;
   - generator free text: SmolLM2-135M asked "supported? yes or no", reply parsed (baseline);
   - generator constrained: asked for a JSON verdict, decoded under `VERDICT_SCHEMA` (engine).
   F1, precision, recall, balanced accuracy, recall per planted kind, and what is unparseable.
2. Self-check on the labelled set, policy drop: share of unsupported claims removed, share of
   supported claims kept (no regeneration needed: verdicts are per claim).
3. Self-check on live answers: the engine answers `--answers` questions from their contexts; the
   loop (policy regenerate, at most one regeneration) is timed against the answer's generation.
"""

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

import torch

from lmforge.rag.answer import ANSWER_PROMPT, NOT_IN_DOCS
from lmforge.rag.claims import Claim, find_evidence, split_claims
from lmforge.rag.grounding_set import training_pairs
from lmforge.rag.selfcheck import SelfCheck
from lmforge.rag.verify import (
    ConsistencyVerifier,
    GeneratorVerifier,
    NLIVerifier,
    OverlapVerifier,
)

DATA = Path(__file__).resolve().parents[1] / "src/lmforge/eval/tasks/data"
SETS = {"verbatim": "grounding.jsonl", "paraphrased": "grounding_paraphrased.jsonl"}


def load(which: str = "verbatim", limit: int | None = None) -> list[dict]:
    text = (DATA / SETS[which]).read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines() if x.strip()][:limit]


def flatten(items: list[dict]) -> tuple[list[str], list[str], list[int], list[str]]:
    claims, premises, labels, kinds = [], [], [], []
    for it in items:
        parts = split_claims(it["answer"])
        assert len(parts) == len(it["labels"]), it["id"]
        for c, y, k in zip(parts, it["labels"], it["kinds"], strict=True):
            claims.append(c.text)
            premises.append(find_evidence(c, it["contexts"]).premise)
            labels.append(y)
            kinds.append(k or "supported")
    return claims, premises, labels, kinds


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


def overlap_threshold(claims: list[str] | None = None, premises=None, labels=None) -> float:
    """The overlap threshold with the best F1 on the verifier's training pairs (or, given
    them, on these claims: the baseline's ceiling on its own test set)."""
    if claims is None:
        pairs = training_pairs(1)[:2560]
        claims = [c for c, _, _ in pairs]
        premises = [find_evidence(Claim(c, []), [ctx]).premise for c, ctx, _ in pairs]
        labels = [y for _, _, y in pairs]
    scores = OverlapVerifier().scores(claims, premises)
    best = (0.0, 0.5)
    for t in [i / 100 for i in range(30, 101)]:
        pred = [s >= t for s in scores]
        tp = sum(not p and y == 0 for p, y in zip(pred, labels, strict=True))
        fp = sum(not p and y == 1 for p, y in zip(pred, labels, strict=True))
        fn = sum(p and y == 0 for p, y in zip(pred, labels, strict=True))
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        best = max(best, (f1, t))
    return best[1]


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


def run_verifier(name: str, v, claims, premises, labels, kinds) -> dict:
    t = time.perf_counter()
    scores = v.scores(claims, premises)
    spent = time.perf_counter() - t
    pred = [s is not None and s >= v.threshold for s in scores]
    out = detection(pred, labels, kinds) | {"seconds": round(spent, 2)}
    out["unparseable"] = sum(s is None for s in scores)
    print(f"{name:24s} {json.dumps(out)}", flush=True)
    return out


def live_loop(items: list[dict], gen, nli, n: int) -> dict:
    """Engine answers, then self-check (regenerate policy); times and counts."""
    check = SelfCheck(nli, "regenerate")
    gen_s = check_s = regen_s = 0.0
    claims = unsupported = regenerated = refused = after = 0
    for it in items[:n]:
        context = "\n\n".join(f"[{i}] {c}" for i, c in enumerate(it["contexts"], 1))
        prompt = ANSWER_PROMPT.format(nodocs=NOT_IN_DOCS, context=context, question=it["question"])
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verifier-path", type=Path, required=True)
    ap.add_argument("--set", choices=sorted(SETS), default="verbatim")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gen-limit", type=int, default=100, help="items for generator verdicts")
    ap.add_argument("--answers", type=int, default=20, help="live answers for the loop timing")
    ap.add_argument("--skip-generator", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, load {os.getloadavg()[0]:.2f}", flush=True)
    items = load(args.set)
    claims, premises, labels, kinds = flatten(items)
    print(f"{len(items)} items, {len(claims)} sentences, {Counter(kinds)}", flush=True)
    res: dict = {"set": args.set, "threads": args.threads, "load": round(os.getloadavg()[0], 2)}
    nli = NLIVerifier(args.verifier_path)
    memo = Memo(nli)
    res["nli"] = run_verifier("nli", memo, claims, premises, labels, kinds)
    both = ConsistencyVerifier(memo)
    res["nli+consistency"] = run_verifier("nli+consistency", both, claims, premises, labels, kinds)
    t = overlap_threshold()
    res["overlap"] = run_verifier(
        f"overlap (t={t})", OverlapVerifier(t), claims, premises, labels, kinds
    )
    t = overlap_threshold(claims, premises, labels)
    res["overlap (best t on this set)"] = run_verifier(
        f"overlap (best t={t})", OverlapVerifier(t), claims, premises, labels, kinds
    ) | {"threshold": t}
    for name in ("nli", "nli+consistency"):  # policy drop removes exactly the flagged claims
        r = res[name]
        res[f"self_check_drop ({name})"] = {
            "unsupported_removed": r["recall"],
            "supported_kept": r["supported_kept"],
        }
    if not args.skip_generator:
        from lmforge.rag.generate import EngineGenerator

        gen = EngineGenerator("default")
        sub = flatten(items[: args.gen_limit])
        for name, constrained in (("generator free text", False), ("generator constrained", True)):
            res[name] = run_verifier(name, GeneratorVerifier(gen, constrained), *sub)
        if args.answers:
            res["self_check_live"] = live_loop(items, gen, ConsistencyVerifier(nli), args.answers)
    print(f"load {os.getloadavg()[0]:.2f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
