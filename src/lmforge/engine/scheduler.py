"""Continuous batching: which sequences run this step, and how many tokens each computes.

Every step first gives each running sequence its next tokens (one for a decode, a chunk for an
unfinished prefill), oldest first, then admits waiting sequences first-come-first-served while the
token budget and `max_num_seqs` allow (chunked prefill: a long prompt takes several steps and
never blocks decodes for long). When the block pool runs dry the *newest* running sequence is
preempted: its blocks are freed and it returns to the front of the queue to be recomputed later,
which costs compute but never fails a request that fits on its own.
"""

from collections import deque
from dataclasses import dataclass

from lmforge.engine.block_manager import BlockManager
from lmforge.engine.sequence import Sequence, Status


@dataclass(slots=True)
class Scheduled:
    seq: Sequence
    num_tokens: int  # tokens to compute this step, from seq.num_computed
    draft: int = 0  # of them, speculative draft tokens to verify (spec.py); their rows are read

    @property
    def samples(self) -> bool:
        """True when this chunk reaches the end of the sequence, so the step samples a token."""
        return self.seq.num_computed + self.num_tokens == len(self.seq)

    @property
    def rows(self) -> range:
        """Positions of this chunk whose logits the step needs: the rows the sequence still
        wants (`logits_from`), then the sampled last one; always a suffix of the chunk."""
        s = self.seq
        start, end = s.num_computed, s.num_computed + self.num_tokens
        lo = end - 1 - self.draft if self.samples else end
        if s.logits_from is not None:
            lo = min(lo, max(start, s.logits_from))
        return range(lo, end)


class Scheduler:
    def __init__(
        self, blocks: BlockManager, max_num_seqs: int, max_num_batched_tokens: int
    ) -> None:
        self.blocks = blocks
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.num_preemptions = 0

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def schedule(self) -> list[Scheduled]:
        budget = self.max_num_batched_tokens
        out: list[Scheduled] = []
        preempted = False
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            n = min(seq.num_uncomputed, budget)
            while not self.blocks.ensure(seq, seq.num_computed + n):
                victim = self.running[-1]
                self._preempt(victim)
                preempted = True
                if victim is seq:
                    break
            if seq.status is not Status.RUNNING:
                break
            out.append(Scheduled(seq, n))
            budget -= n
            i += 1
        # A step that had to preempt admits nobody: the pool is the bottleneck right now.
        while (
            not preempted and self.waiting and budget > 0 and len(self.running) < self.max_num_seqs
        ):
            seq = self.waiting[0]
            hits = self.blocks.lookup(seq)
            cached = len(hits) * self.blocks.block_size
            n = min(len(seq) - cached, budget)
            if not self.blocks.can_admit(hits, cached + n):
                break
            self.waiting.popleft()
            seq.num_computed = seq.num_cached = self.blocks.admit(seq, hits)
            assert self.blocks.ensure(seq, cached + n)
            seq.status = Status.RUNNING
            self.running.append(seq)
            out.append(Scheduled(seq, n))
            budget -= n
        return out

    def _preempt(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.blocks.free_seq(seq)
        seq.num_computed = 0
        seq.status = Status.WAITING
        seq.num_preemptions += 1
        self.num_preemptions += 1
        self.waiting.appendleft(seq)

    def finish(self, seq: Sequence, reason: str) -> None:
        """Retire a sequence now: its blocks return to the pool (cached ones stay hittable)."""
        if seq.status is Status.RUNNING:
            self.running.remove(seq)
        elif seq.status is Status.WAITING:
            self.waiting.remove(seq)
        self.blocks.free_seq(seq)
        seq.status = Status.FINISHED
        seq.finish_reason = reason
