"""Speculative decoding: draft k tokens cheaply, verify them in one forward of the target.

Drafts come from prompt lookup (n-gram: the tokens that followed the latest earlier occurrence
of the sequence's last n tokens; no model, free when nothing matches) or from a smaller draft
model with the same vocabulary, run by its own model runner over its own small KV pool.

Verification: the k drafts are appended to the sequence and it is scheduled as a k + 1 token
chunk (the prefill path attends causally over the cache plus the chunk), so one forward gives
the target's logits at every draft position. Under greedy the longest prefix of drafts equal to
the target's argmax is kept plus the target's next token, so the output is identical to plain
decoding. Under sampling each draft d is kept with probability min(1, p(d) / q(d)) and the first
rejection draws from norm(max(p - q, 0)) (Leviathan et al. 2023, Chen et al. 2023), which
leaves the output distribution exactly the target's (q is a point mass for prompt lookup).
Rejected positions roll back: `num_computed` stops at the kept tokens, their K/V slots are
overwritten later, and their blocks stay with the sequence for the tokens to come.

Policy: speculation is skipped when more than `spec_max_batch` sequences run (a batched step is
compute-bound: verifying k extra tokens per sequence costs real time) and, per request, for a
while after its acceptance rate falls under `spec_min_acceptance`.
"""

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from lmforge.engine.block_manager import BlockManager
from lmforge.engine.sampler import _filter
from lmforge.engine.scheduler import Scheduled
from lmforge.engine.sequence import Sequence

PROBATION = 16  # steps a request decodes plainly after its acceptance rate fell too low


@dataclass(slots=True)
class SpecStats:
    """Per request: an exponential average of the accepted fraction, and the probation end."""

    rate: float = 1.0
    steps: int = 0
    off_until: int = 0


def ngram_draft(tokens: list[int], k: int, max_n: int = 3, min_n: int = 2) -> list[int]:
    """Prompt lookup: the k tokens after the latest earlier occurrence of the last n tokens
    (longest n first); [] when nothing matches."""
    size = len(tokens)
    for n in range(min(max_n, size - 1), min_n - 1, -1):
        tail = tokens[size - n :]
        for i in range(size - n - 1, -1, -1):
            if tokens[i : i + n] == tail:
                return tokens[i + n : i + n + k]
    return []


def eligible(seq: Sequence) -> bool:
    """Requests whose next-token rule the verifier reproduces exactly: no penalties (they
    depend on the tokens before each position), no logprobs, no constraint."""
    p = seq.params
    return (
        p.repetition_penalty == 1.0
        and not p.presence_penalty
        and not p.frequency_penalty
        and p.logprobs is None
        and p.constraint is None
        and seq.logits_from is None
    )


def verify(
    logits: Tensor, drafts: list[int], q: Tensor | None, seq: Sequence, gen: Any
) -> list[int]:
    """Target logits [k + 1, V] at the draft positions -> the tokens to append (1..k + 1).

    `q` [k, V]: the draft model's probabilities (None: prompt lookup, a point mass per draft).
    """
    k = len(drafts)
    if seq.params.greedy:
        target = logits.argmax(-1).tolist()
        j = 0
        while j < k and target[j] == drafts[j]:
            j += 1
        return [*drafts[:j], target[j]]
    p = _filter(logits, [seq] * (k + 1)).softmax(-1)
    d = torch.tensor(drafts, device=logits.device)
    idx = torch.arange(k, device=logits.device)
    pd = p[idx, d]
    ratio = pd / q[idx, d] if q is not None else pd
    u = torch.rand(k, generator=gen, device=logits.device)
    rejected = (u >= ratio).nonzero()
    j = int(rejected[0]) if len(rejected) else k
    if j < k:
        resid = (p[j] - q[j]).clamp(min=0) if q is not None else p[j].clone()
        if q is None:
            resid[drafts[j]] = 0
        dist = resid if float(resid.sum()) > 0 else p[j]
    else:
        dist = p[k]
    token = int(torch.multinomial(dist / dist.sum(), 1, generator=gen))
    return [*drafts[:j], token]


class DraftModel:
    """A smaller model of the same vocabulary drafting k tokens per sequence, batched, over its
    own KV pool; each target request has a shadow sequence there, rolled back after verify."""

    def __init__(self, model: Any, runner: Any) -> None:
        self.model, self.runner = model, runner
        self.blocks = BlockManager(runner.num_blocks, runner.block_size, prefix_caching=False)
        self.shadows: dict[str, Sequence] = {}

    def drop(self, rid: str) -> None:
        sh = self.shadows.pop(rid, None)
        if sh is not None:
            self.blocks.free_seq(sh)

    def _sync(self, seq: Sequence) -> Sequence:
        sh = self.shadows.get(seq.request_id)
        if sh is None:
            sh = Sequence(seq.request_id, list(seq.prompt_ids), seq.params, 0.0)
            self.shadows[seq.request_id] = sh
        same = 0
        for a, b in zip(sh.output_ids, seq.output_ids, strict=False):
            if a != b:
                break
            same += 1
        sh.num_computed = min(sh.num_computed, len(seq.prompt_ids) + same)
        sh.output_ids = list(seq.output_ids)
        return sh

    def propose(
        self, seqs: list[Sequence], k: int, gens: dict[str, Any]
    ) -> list[tuple[list[int], Tensor | None]]:
        """k draft tokens per sequence and their draft probabilities (None under greedy);
        an empty draft for a sequence whose shadow does not fit the draft pool."""
        shadows = [self._sync(s) for s in seqs]
        live = []
        for sh in shadows:
            if self.blocks.ensure(sh, len(sh) + k):
                live.append(sh)
            else:
                self.drop(sh.request_id)
        probs: dict[str, list[Tensor]] = {sh.request_id: [] for sh in live}
        for _ in range(k):
            if not live:
                break
            batch = [Scheduled(sh, len(sh) - sh.num_computed) for sh in live]
            logits = self.runner.run(batch)  # reorders `batch`
            for it, row in zip(batch, logits, strict=True):
                sh = it.seq
                sh.num_computed = len(sh)
                if sh.params.greedy:
                    sh.output_ids.append(int(row.argmax()))
                    continue
                q = _filter(row.unsqueeze(0), [sh]).softmax(-1)[0]
                probs[sh.request_id].append(q)
                gen = gens.get(sh.request_id)
                sh.output_ids.append(int(torch.multinomial(q, 1, generator=gen)))
        out = []
        for s in seqs:
            sh = self.shadows.get(s.request_id)
            if sh is None or sh not in live:
                out.append(([], None))
                continue
            q = probs[s.request_id]
            out.append((sh.output_ids[len(s.output_ids) :], torch.stack(q) if q else None))
        return out


class Speculator:
    """Chooses which decodes speculate this step, extends them, and verifies the result."""

    def __init__(self, cfg: Any, blocks: BlockManager, draft: DraftModel | None) -> None:
        self.policy, self.k = cfg.speculative, cfg.spec_tokens
        self.max_batch, self.min_rate = cfg.spec_max_batch, cfg.spec_min_acceptance
        self.blocks, self.draft = blocks, draft
        self.stats: dict[str, SpecStats] = {}
        self.pending: dict[str, Tensor | None] = {}  # request id -> draft probs, this step
        self.step = 0
        self.proposed = self.accepted = 0

    def wants(self, seq: Sequence, max_len: int) -> int:
        """How many tokens `seq` may draft this step (0 = decode plainly)."""
        on = seq.params.speculative
        if on is False or (on is None and self.policy == "off") or not eligible(seq):
            return 0
        st = self.stats.setdefault(seq.request_id, SpecStats())
        if st.off_until > self.step:
            return 0
        left = min(seq.params.max_tokens - len(seq.output_ids), max_len - len(seq)) - 1
        return max(0, min(self.k, left))

    def plan(self, batch: list[Scheduled], running: int, max_len: int, gens: dict) -> None:
        """Turn eligible decodes of `batch` into k + 1 token verify chunks, in place."""
        self.step += 1
        self.pending = {}
        if running > self.max_batch:
            return
        picks = []
        for it in batch:
            s = it.seq
            decode = it.num_tokens == 1 and s.output_ids and s.num_computed == len(s) - 1
            if decode and (k := self.wants(s, max_len)):
                picks.append((it, k))
        if not picks:
            return
        use_model = self.draft is not None and self.policy != "ngram"
        if use_model:
            n = min(k for _, k in picks)
            drafts = self.draft.propose([it.seq for it, _ in picks], n, gens)
        else:
            drafts = [(ngram_draft(it.seq.tokens, k), None) for it, k in picks]
        for (it, _), (d, q) in zip(picks, drafts, strict=True):
            s = it.seq
            if not d:
                continue
            s.output_ids.extend(d)
            if not self.blocks.ensure(s, len(s)):
                del s.output_ids[-len(d) :]
                continue
            it.num_tokens, it.draft = 1 + len(d), len(d)
            self.pending[s.request_id] = q

    def accept(self, it: Scheduled, logits: Tensor, gen: Any) -> list[int]:
        """Verify `it`'s drafts against its k + 1 logit rows; roll the sequence back to the
        kept tokens (drafts removed, num_computed at the last kept position) and return the
        tokens the engine appends."""
        s, k = it.seq, it.draft
        drafts = s.output_ids[-k:]
        del s.output_ids[-k:]
        tokens = verify(logits, drafts, self.pending.pop(s.request_id), s, gen)
        kept = len(tokens) - 1
        s.num_computed += 1 + kept
        self.proposed += k
        self.accepted += kept
        st = self.stats[s.request_id]
        st.rate = 0.7 * st.rate + 0.3 * kept / k
        st.steps += 1
        if st.steps >= 2 and st.rate < self.min_rate:
            st.off_until, st.rate, st.steps = self.step + PROBATION, 1.0, 0
        return tokens

    def drop(self, rid: str) -> None:
        self.stats.pop(rid, None)
        if self.draft is not None:
            self.draft.drop(rid)


def build(cfg: Any, blocks: BlockManager, max_len: int, dtype: Any, device: Any, vocab: int):
    """The engine's Speculator, with its draft model when one is configured."""
    draft = None
    if cfg.spec_draft_model:
        from lmforge.engine.loader import load_llama
        from lmforge.engine.model_runner import ModelRunner
        from lmforge.errors import ModelLoadError
        from lmforge.models.loader import resolve_model_dir

        path = resolve_model_dir(cfg.spec_draft_model)
        model, _ = load_llama(path, max_len, dtype)
        if model.spec.vocab_size != vocab:
            raise ModelLoadError(
                f"spec_draft_model {cfg.spec_draft_model}: vocabulary {model.spec.vocab_size} "
                f"!= the target's {vocab}; the draft needs the target's tokenizer"
            )
        model = model.to(device)
        gb = (cfg.kv_cache_gb or 0) / 4 or None
        runner = ModelRunner(model, cfg.block_size, dtype, device, gb, cfg.kv_cache_fraction / 4)
        draft = DraftModel(model, runner)
    return Speculator(cfg, blocks, draft)
