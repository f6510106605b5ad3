"""Log-probabilities of given tokens at given positions, and the plan that scores choices as
branches of one context.

Why branches: scoring a multiple-choice item means log P(choice | context) for each choice. Run
as separate prompts, each choice pays the whole context's prefill. Here the context is computed
once, and its last row already gives every choice's *first* token (one-token choices, MMLU's
" A".." D", need nothing more). Longer choices become branches `context + choice[:-1]`, admitted
after the context's step so the prefix cache serves the context's full blocks; only the partial
last block (< block_size tokens) and the branch's own tokens are recomputed. A branch whose fed
tokens are a prefix of another's rides on the longer one.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from lmforge.engine.outputs import Logprob

Rows = dict[int, dict[int, Logprob]]  # position p -> {token: its log-prob as token p + 1}
ItemRows = dict[tuple[int, tuple[int, ...]], dict[int, Logprob]]  # see merge_rows


@dataclass(slots=True)
class RowWant:
    """What to keep of one logits row: these tokens' log-probs and ranks, and the top n."""

    position: int
    tokens: list[int]
    top_n: int = 0


def gather_logprobs(logits: Tensor, wants: Sequence[RowWant], chunk: int = 64) -> list[dict]:
    """logits [len(wants), vocab] -> per row {token: Logprob}; log-softmax in fp32, in chunks so
    a long prompt's rows never hold more than `chunk` x vocab temporaries at once."""
    assert logits.shape[0] == len(wants)
    out: list[dict[int, Logprob]] = []
    for lo in range(0, len(wants), chunk):
        lsm = logits[lo : lo + chunk].float().log_softmax(-1)
        part = wants[lo : lo + chunk]
        ri = [r for r, w in enumerate(part) for _ in w.tokens]
        ti = [t for w in part for t in w.tokens]
        vals = lsm[ri, ti] if ti else lsm.new_zeros(0)
        ranks = (lsm[ri] > vals[:, None]).sum(-1) + 1 if ti else vals.long()
        vals_l, ranks_l, k = vals.tolist(), ranks.tolist(), 0
        n_top = max((w.top_n for w in part), default=0)
        top = lsm.topk(n_top, dim=-1) if n_top else None
        for r, w in enumerate(part):
            row: dict[int, Logprob] = {}
            if top is not None and w.top_n:
                ids, lps = top.indices[r, : w.top_n].tolist(), top.values[r, : w.top_n].tolist()
                row.update(
                    (t, Logprob(v, j + 1)) for j, (t, v) in enumerate(zip(ids, lps, strict=True))
                )
            for t in w.tokens:
                row[t] = Logprob(vals_l[k], ranks_l[k])
                k += 1
            out.append(row)
    return out


@dataclass(slots=True, frozen=True)
class ContinuationScore:
    """Log-probs of a continuation's tokens after its context; `greedy`: every token was the
    argmax (greedy decoding would have produced exactly this continuation)."""

    logprobs: tuple[float, ...]
    greedy: bool

    @property
    def logprob(self) -> float:
        return float(sum(self.logprobs))


@dataclass(slots=True)
class Branch:
    """One engine sequence of a plan: `prompt` and the tokens to read at each position."""

    item: int
    prompt: list[int]
    targets: dict[int, list[int]]


def plan_item(item: int, context: list[int], conts: Sequence[list[int]]) -> list[Branch]:
    """The context sequence first (its last row scores every continuation's first token), then
    one branch per distinct fed suffix `cont[:-1]` not covered by a longer one (with a single
    branch, that branch alone)."""
    assert context, "a context needs at least one token (use the EOS token for none)"
    assert all(conts), "every continuation needs at least one token"
    n = len(context)
    first = Branch(item, list(context), {n - 1: sorted({c[0] for c in conts})})
    feeds: list[tuple[int, ...]] = []
    for f in sorted({tuple(c[:-1]) for c in conts if len(c) > 1}, key=len, reverse=True):
        if not any(g[: len(f)] == f for g in feeds):
            feeds.append(f)
    branches = {g: Branch(item, context + list(g), {}) for g in feeds}
    for c in conts:
        if len(c) < 2:
            continue
        g = next(g for g in feeds if g[: len(c) - 1] == tuple(c[:-1]))
        for j, tok in enumerate(c[1:]):
            want = branches[g].targets.setdefault(n + j, [])
            if tok not in want:
                want.append(tok)
    if len(branches) == 1:  # one branch: it carries the context's row too, one sequence in all
        (only,) = branches.values()
        only.targets[n - 1] = first.targets[n - 1]
        return [only]
    return [first, *branches.values()]


def merge_rows(n_context: int, branch: Branch, rows: Rows, into: ItemRows) -> None:
    """Key a branch's rows by (position, the tokens fed after the context up to it): two
    branches of one item have different logits at the same position."""
    for pos, row in rows.items():
        into.setdefault((pos, tuple(branch.prompt[n_context : pos + 1])), {}).update(row)


def read_scores(
    n_context: int, conts: Sequence[list[int]], rows: ItemRows
) -> list[ContinuationScore]:
    """Each continuation's scores from its item's merged rows."""
    out = []
    for c in conts:
        lps = [rows[(n_context + j - 1, tuple(c[:j]))][c[j]] for j in range(len(c))]
        out.append(ContinuationScore(tuple(x.logprob for x in lps), all(x.rank == 1 for x in lps)))
    return out
