"""Block manager: reference counts, prefix caching, fork, and a hypothesis state machine."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lmforge.engine.block_manager import BlockManager
from lmforge.engine.sampling_params import SamplingParams
from lmforge.engine.sequence import Sequence


def seq(tokens: list[int], rid: str = "r") -> Sequence:
    return Sequence(rid, list(tokens), SamplingParams(), 0.0)


def computed(bm: BlockManager, s: Sequence) -> Sequence:
    assert bm.ensure(s, len(s))
    s.num_computed = len(s)
    bm.register(s)
    return s


def test_prefix_hit_shares_full_blocks_and_keeps_last_token() -> None:
    bm = BlockManager(16, 4)
    a = computed(bm, seq(list(range(10)), "a"))  # blocks: [0-3] [4-7] [8,9]
    b = seq([*range(8), 99, 98], "b")
    hits = bm.lookup(b)
    assert hits == a.block_table[:2]
    assert bm.admit(b, hits) == 8
    assert [bm.blocks[i].ref for i in hits] == [2, 2]
    # a prompt equal to a's first 8 tokens must recompute its last token -> only 1 block hit
    assert bm.lookup(seq(list(range(8)))) == a.block_table[:1]
    bm.check([a, b])


def test_freed_blocks_stay_hittable_until_reused() -> None:
    bm = BlockManager(4, 2)
    a = computed(bm, seq([1, 2, 3, 4, 5], "a"))
    table = list(a.block_table)
    bm.free_seq(a)
    assert bm.num_free == 4
    b = seq([1, 2, 3, 4, 7], "b")
    hits = bm.lookup(b)
    assert hits == table[:2] and bm.can_admit(hits, 5)
    bm.admit(b, hits)
    assert bm.num_free == 2  # revived blocks left the free list
    bm.check([b])
    # exhausting the pool evicts the cached-but-free block, which is then no longer a hit
    c = computed(bm, seq([9, 9, 9, 9], "c"))
    assert bm.lookup(seq([1, 2, 3, 4, 5, 6])) == table[:2]  # still held by b
    bm.check([b, c])


def test_no_hits_when_disabled() -> None:
    bm = BlockManager(8, 2, prefix_caching=False)
    computed(bm, seq([1, 2, 3, 4, 5], "a"))
    assert bm.lookup(seq([1, 2, 3, 4, 5])) == []


def test_fork_shares_full_and_copies_partial() -> None:
    bm = BlockManager(8, 4)
    a = computed(bm, seq(list(range(6)), "a"))
    child = seq(list(range(6)), "c")
    copies = bm.fork(a, child)
    assert child.block_table[0] == a.block_table[0]
    assert copies == [(a.block_table[1], child.block_table[1])]
    bm.check([a, child])


class BlockMachine(RuleBasedStateMachine):
    """Random add / append / fork / free / preempt; refs must always equal live references."""

    def __init__(self) -> None:
        super().__init__()
        self.bm = BlockManager(12, 3)
        self.live: list[Sequence] = []
        self.n = 0

    @rule(tokens=st.lists(st.integers(0, 3), min_size=1, max_size=10))
    def add(self, tokens: list[int]) -> None:
        self.n += 1
        s = seq(tokens, str(self.n))
        hits = self.bm.lookup(s)
        if not self.bm.can_admit(hits, len(s)):
            return
        s.num_computed = self.bm.admit(s, hits)
        assert self.bm.ensure(s, len(s))
        s.num_computed = len(s)
        self.bm.register(s)
        self.live.append(s)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 100), tok=st.integers(0, 3))
    def append(self, i: int, tok: int) -> None:
        s = self.live[i % len(self.live)]
        s.output_ids.append(tok)
        if self.bm.ensure(s, len(s)):
            s.num_computed = len(s)
            self.bm.register(s)
        else:
            s.output_ids.pop()

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 100))
    def fork(self, i: int) -> None:
        parent = self.live[i % len(self.live)]
        self.n += 1
        child = seq(parent.tokens, str(self.n))
        try:
            self.bm.fork(parent, child)
        except MemoryError:
            assert not child.block_table
            return
        self.live.append(child)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 100))
    def free(self, i: int) -> None:
        self.bm.free_seq(self.live.pop(i % len(self.live)))

    @precondition(lambda self: self.live)
    @rule()
    def preempt_newest(self) -> None:
        s = self.live.pop()
        self.bm.free_seq(s)
        s.num_computed = 0
        assert not s.block_table

    @invariant()
    def consistent(self) -> None:
        self.bm.check(self.live)
        used = {b for s in self.live for b in s.block_table}
        assert len(used) + self.bm.num_free == len(self.bm.blocks)

    def teardown(self) -> None:
        for s in self.live:
            self.bm.free_seq(s)
        self.bm.check([])
        assert self.bm.num_free == len(self.bm.blocks)


TestBlockMachine = BlockMachine.TestCase
TestBlockMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
