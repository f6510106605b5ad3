"""Can a scorer learned over frozen MiniLM admit the rewordings the lexical verifier refuses?

The semantic cache's misses are vetoes, not low similarity: of the paraphrase pairs it misses,
almost all are above the cosine bar and pass `verify.same_structure` (numbers, names,
negations, units, direction) but replace content words ("wrote" / "author", "with food" /
"with a meal"). This measures, on the DEV families only (test is not read), whether a
logistic regression over pair features could admit those without admitting the near misses
that share the same structure (noun, antonym, relation swaps): leave-one-family-out, so each
family is scored by a head that never saw it, as a train split of other families would.
Features: the sentence embeddings' product and absolute difference, their cosine, and the same
for the embeddings of the words only one side has. Reports the grey zone's sizes, the AUC, and
how many paraphrases score above every near miss (what a zero-false-hit bar could admit).

    PYTHONPATH=src python bench/gateway_cache_grey.py
"""

import json
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from gateway_cache import load_pairs
from lmforge.gateway.server import make_embedder
from lmforge.gateway.verify import compatible, content_words, same_structure


def differing(a: str, b: str) -> tuple[str, str]:
    """The content words only `a` has and only `b` has ("-" for none)."""
    wa, wb = content_words(a), content_words(b)
    sa, sb = {s for s, _ in wa}, {s for s, _ in wb}
    only_a = " ".join(w for s, w in wa if s not in sb) or "-"
    return only_a, " ".join(w for s, w in wb if s not in sa) or "-"


def pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.hstack([u * v, np.abs(u - v), (u * v).sum(1, keepdims=True)])


def run(skip_types: tuple[str, ...] = ()) -> dict[str, Any]:
    pairs = [p for p in load_pairs() if p["split"] == "dev" and p["type"] not in skip_types]
    embed = make_embedder()
    va, vb = embed([p["a"] for p in pairs]), embed([p["b"] for p in pairs])
    diffs = [differing(p["a"], p["b"]) for p in pairs]
    da, db = embed([x for x, _ in diffs]), embed([y for _, y in diffs])
    grey = np.array(
        [same_structure(p["a"], p["b"]) and not compatible(p["a"], p["b"]) for p in pairs]
    )
    para = np.array([p["kind"] == "paraphrase" for p in pairs])
    fam = np.array([p["family"] for p in pairs])
    out: dict[str, Any] = {
        "skipped_near_miss_types": list(skip_types),
        "grey_paraphrases": int((grey & para).sum()),
        "grey_near_misses": int((grey & ~para).sum()),
    }
    for name, x in (
        ("sentence", pair_features(va, vb)),
        ("sentence+differing", np.hstack([pair_features(va, vb), pair_features(da, db)])),
    ):
        score = np.zeros(len(pairs))
        for f in np.unique(fam):
            tr, te = (fam != f) & grey, fam == f
            clf = LogisticRegression(class_weight="balanced", max_iter=3000).fit(x[tr], para[tr])
            score[te] = clf.predict_proba(x[te])[:, 1]
        top_near = float(score[grey & ~para].max())
        out[name] = {
            "auc": round(float(roc_auc_score(para[grey], score[grey])), 4),
            "paraphrases_above_every_near_miss": int((score[grey & para] > top_near).sum()),
        }
    return out


if __name__ == "__main__":
    print(json.dumps([run(), run(("antonym",))], indent=1))
