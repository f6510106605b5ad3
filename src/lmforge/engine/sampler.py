"""Turn a batch of logits into next tokens, one set of SamplingParams per row.

Order (as vLLM/transformers): penalties on the raw logits, then temperature, then top-k, top-p and
min-p masks, then a draw. The draw is `argmax(probs / Exp(1) noise)` (the exponential-race form of
categorical sampling), with the noise from the request's own torch.Generator when it has a seed:
a request's tokens then depend only on its seed and its logits, not on its batch neighbours or on
preemption. Log-probabilities are those of the model's raw distribution (before penalties and
temperature), as the OpenAI API reports them.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from lmforge.engine.sequence import Sequence


@dataclass(slots=True)
class Sampled:
    token: int
    logprob: float | None = None
    top: list[tuple[int, float]] | None = None


def _apply_penalties(logits: Tensor, seqs: list[Sequence]) -> None:
    for i, s in enumerate(seqs):
        p = s.params
        if p.repetition_penalty != 1.0:
            ids = torch.tensor(sorted(set(s.tokens)), device=logits.device)
            row = logits[i, ids]
            logits[i, ids] = torch.where(
                row > 0, row / p.repetition_penalty, row * p.repetition_penalty
            )
        if (p.presence_penalty or p.frequency_penalty) and s.output_ids:
            ids, counts = torch.tensor(s.output_ids, device=logits.device).unique(
                return_counts=True
            )
            logits[i, ids] -= p.presence_penalty + p.frequency_penalty * counts.to(logits.dtype)


def _filter(logits: Tensor, seqs: list[Sequence]) -> Tensor:
    """Temperature, then top-k / top-p / min-p as -inf masks; rows are independent."""
    dev = logits.device
    temps = torch.tensor([s.params.temperature for s in seqs], device=dev).unsqueeze(1)
    logits = logits / temps
    top_k = [s.params.top_k for s in seqs]
    top_p = [s.params.top_p for s in seqs]
    min_p = [s.params.min_p for s in seqs]
    if any(top_k) or any(p < 1 for p in top_p):
        srt, idx = logits.sort(dim=-1, descending=True)
        rank = torch.arange(logits.shape[-1], device=dev).unsqueeze(0)
        k = torch.tensor([k or logits.shape[-1] for k in top_k], device=dev).unsqueeze(1)
        drop = rank >= k
        probs = srt.softmax(-1)
        # keep the smallest prefix whose mass reaches top_p (the first token always stays)
        before = probs.cumsum(-1) - probs
        tp = torch.tensor(top_p, device=dev).unsqueeze(1)
        drop |= (before >= tp) & (tp < 1)  # rounding must not trim rows with top_p = 1
        srt = srt.masked_fill(drop, float("-inf"))
        logits = torch.empty_like(logits).scatter_(1, idx, srt)
    if any(min_p):
        probs = logits.softmax(-1)
        floor = torch.tensor(min_p, device=dev).unsqueeze(1) * probs.amax(-1, keepdim=True)
        logits = logits.masked_fill(probs < floor, float("-inf"))
    return logits


def _noise(probs: Tensor, seqs: list[Sequence], gens: dict[str, torch.Generator]) -> Tensor:
    """Exp(1) noise per row: one draw for all unseeded rows, one per seeded row (its own
    generator, so its tokens do not depend on its neighbours). No host sync either way."""
    noise = torch.empty_like(probs)
    seeded = [j for j, s in enumerate(seqs) if s.request_id in gens]
    if len(seeded) < len(seqs):
        noise.exponential_()  # seeded rows are overwritten below
    for j in seeded:
        noise[j].exponential_(generator=gens[seqs[j].request_id])
    return noise


def sample(
    logits: Tensor, seqs: list[Sequence], generators: dict[str, torch.Generator]
) -> list[Sampled]:
    """logits [B, V] fp32 (one row per seq) -> one Sampled per seq.

    Everything stays on the device until one transfer of the results at the end (per-row
    `int(tensor)` reads would each wait for the GPU).
    """
    assert logits.shape[0] == len(seqs)
    want = [s.params.logprobs for s in seqs]
    raw_logprobs = logits.log_softmax(-1) if any(n is not None for n in want) else None
    logits = logits.clone()
    _apply_penalties(logits, seqs)
    tokens = logits.argmax(-1)
    rand = [i for i, s in enumerate(seqs) if not s.params.greedy]
    if rand:
        sub_seqs = [seqs[i] for i in rand]
        probs = _filter(logits[rand], sub_seqs).softmax(-1)
        tokens[rand] = (probs / _noise(probs, sub_seqs, generators)).argmax(-1)
    if raw_logprobs is None:
        return [Sampled(t) for t in tokens.tolist()]
    chosen = raw_logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)
    k = max(n or 0 for n in want)
    top = raw_logprobs.topk(k, dim=-1) if k else None
    tok_l, chosen_l = tokens.tolist(), chosen.tolist()
    top_i, top_v = (top.indices.tolist(), top.values.tolist()) if top is not None else ([], [])
    out = []
    for i, n in enumerate(want):
        if n is None:
            out.append(Sampled(tok_l[i]))
            continue
        pairs = list(zip(top_i[i][:n], top_v[i][:n], strict=True)) if n else []
        out.append(Sampled(tok_l[i], chosen_l[i], pairs))
    return out
