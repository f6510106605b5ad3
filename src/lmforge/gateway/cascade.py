"""The cascade's confidence signals and the choice of its threshold on a dev split.

A cascade answers with the cheap backend and escalates to the next one when the cheap answer's
confidence is below `threshold`. Signals (all "higher = more confident"):

- margin: mean over the answer's tokens of logprob(top-1) - logprob(top-2), from the cheap
  backend's own logprobs (the gateway asks for `top_logprobs=2` and strips them again if the
  client did not ask). Free: it comes with the answer.
- selfcheck: a second, one-token call to the cheap backend asking whether its answer is
  correct, read as P(yes) / (P(yes) + P(no)) from its top logprobs, i.e. the output
  constrained to {yes, no}. Costs one short call.
- router: a classifier over the prompt's MiniLM embedding that predicts whether the cheap
  model will be right (`router_model.py`). Decided before any call, so an escalated request
  never pays for the cheap answer.
- answer_router: a classifier over (prompt embedding, cheap answer) that predicts whether this
  answer is right (`answer_router.py`). One embedding after the cheap call.

`choose_threshold` picks, on dev items with known correctness, the threshold that minimises
cost subject to accuracy >= `target` x the large model's (optionally on the lower end of a
bootstrap interval, so the choice keeps a margin for the next sample); `simulate` is the same
decision rule applied to items offline (the bench's curve), so the live cascade and the curve agree.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

SELF_CHECK = (
    "Question:\n{question}\n\nProposed answer:\n{answer}\n\n"
    "Is the proposed answer correct? Reply with one word, yes or no."
)


def margin(body: dict[str, Any]) -> float | None:
    """Mean top-1 minus top-2 logprob over the first choice's tokens (chat or completion)."""
    lp = (body.get("choices") or [{}])[0].get("logprobs")
    if not lp:
        return None
    gaps: list[float] = []
    if "content" in lp:  # chat
        for t in lp["content"] or []:
            tops = sorted((x["logprob"] for x in t.get("top_logprobs") or []), reverse=True)
            if len(tops) >= 2:
                gaps.append(tops[0] - tops[1])
    else:  # completions
        for row in lp.get("top_logprobs") or []:
            tops = sorted((row or {}).values(), reverse=True)
            if len(tops) >= 2:
                gaps.append(tops[0] - tops[1])
    return float(np.mean(gaps)) if gaps else None


def yes_probability(body: dict[str, Any]) -> float | None:
    """P(yes) among {yes, no} at the first token of a one-token answer."""
    lp = (body.get("choices") or [{}])[0].get("logprobs")
    if not lp:
        return None
    if "content" in lp:
        rows = (
            [
                {
                    x["token"]: x["logprob"]
                    for x in (lp["content"] or [{}])[0].get("top_logprobs") or []
                }
            ]
            if lp["content"]
            else []
        )
    else:
        rows = (lp.get("top_logprobs") or [])[:1]
    if not rows:
        return None
    p = {"yes": 0.0, "no": 0.0}
    for tok, lp_ in rows[0].items():
        w = tok.strip().lower()
        if w in p:
            p[w] += math.exp(lp_)
    total = p["yes"] + p["no"]
    return p["yes"] / total if total > 0 else None


def answer_text(body: dict[str, Any]) -> str:
    c = (body.get("choices") or [{}])[0]
    return (c.get("message") or {}).get("content") or c.get("text") or ""


@dataclass(slots=True)
class Outcome:
    accuracy: float
    cost: float
    escalated: float  # fraction of items sent on to the large backend


def simulate(
    conf: np.ndarray,
    small_ok: np.ndarray,
    large_ok: np.ndarray,
    small_cost: np.ndarray,
    large_cost: np.ndarray,
    threshold: float,
    pre_call: bool = False,
) -> Outcome:
    """The cascade rule on items: escalate where conf < threshold. With `pre_call` (router
    signal) an escalated item does not pay for the small call."""
    esc = conf < threshold
    ok = np.where(esc, large_ok, small_ok)
    cost = np.where(esc, large_cost + (0 if pre_call else small_cost), small_cost)
    return Outcome(float(ok.mean()), float(cost.sum()), float(esc.mean()))


def choose_threshold(
    conf: np.ndarray,
    small_ok: np.ndarray,
    large_ok: np.ndarray,
    small_cost: np.ndarray,
    large_cost: np.ndarray,
    target: float = 0.95,
    pre_call: bool = False,
    ci: float | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> float:
    """The cheapest threshold whose dev accuracy is >= target x the large model's.

    With `ci` (e.g. 0.95) the bar is on the lower end of the paired bootstrap `ci` interval of
    the dev accuracy ratio rather than on its point estimate. A threshold that only just
    reaches the target on one dev sample misses it on another (a test split whose cheap model
    is right less often needs more escalation); asking the lower bound to clear the target
    buys that margin from dev alone. Cost only grows with the threshold, so the smallest
    threshold that clears the bar is the cheapest."""
    cands = np.concatenate([[-np.inf], np.unique(conf), [np.inf]])
    if ci is None:
        bar = target * float(large_ok.mean())
        best, best_cost = float(np.inf), np.inf
        for t in cands:
            o = simulate(conf, small_ok, large_ok, small_cost, large_cost, float(t), pre_call)
            if o.accuracy >= bar and o.cost < best_cost:
                best, best_cost = float(t), o.cost
        return best
    idx = np.random.default_rng(seed).integers(0, len(conf), (n_boot, len(conf)))
    large_acc = np.maximum(large_ok[idx].mean(1), 1e-9)
    q = (1.0 - ci) / 2.0
    for t in cands:
        ok = np.where(conf < t, large_ok, small_ok)
        if float(np.quantile(ok[idx].mean(1) / large_acc, q)) >= target - 1e-9:
            return float(t)
    return float(np.inf)
