"""Paged KV cache bookkeeping: fixed-size blocks, reference counts, automatic prefix caching.

A sequence owns a block table (list of block ids); block i holds the K/V of its tokens
[i*block_size, (i+1)*block_size). A *full, computed* block is keyed by a hash of its tokens and
of the hash of the block before it, so two requests that share a prefix (a system prompt) share
its blocks: the second one bumps the reference count instead of recomputing. Only full blocks are
ever shared, so a block that is still being written has exactly one owner and needs no
copy-on-write. A block whose count drops to 0 goes to the free list *keeping its hash*: it can
still be hit until it is handed out again (least recently freed first), which is the LRU eviction.
"""

from collections import OrderedDict
from dataclasses import dataclass

from lmforge.engine.sequence import Sequence


@dataclass(slots=True)
class Block:
    id: int
    ref: int = 0
    hash: int | None = None
    tokens: tuple[int, ...] = ()  # kept with the hash to rule out collisions on a hit


def block_hash(parent: int | None, tokens: tuple[int, ...]) -> int:
    """Hash of a full block given its parent's hash: equal iff the whole prefix is equal."""
    return hash((parent, tokens))


class BlockManager:
    """Owns the block pool; every method keeps `check()`'s invariants."""

    def __init__(self, num_blocks: int, block_size: int, prefix_caching: bool = True) -> None:
        assert num_blocks > 0 and block_size > 0
        self.block_size = block_size
        self.prefix_caching = prefix_caching
        self.blocks = [Block(i) for i in range(num_blocks)]
        self.free: OrderedDict[int, None] = OrderedDict.fromkeys(range(num_blocks))
        self.cached: dict[int, int] = {}  # hash -> block id
        self.hits = 0  # prefix-cache blocks served
        self.queries = 0  # prefix-cache blocks looked up

    @property
    def num_free(self) -> int:
        return len(self.free)

    @property
    def usage(self) -> float:
        """Fraction of blocks held by live sequences (free-but-cached blocks count as free)."""
        return 1.0 - len(self.free) / len(self.blocks)

    def blocks_for(self, num_tokens: int) -> int:
        return -(-num_tokens // self.block_size)

    # ---- admission -------------------------------------------------------------------------
    def lookup(self, seq: Sequence) -> list[int]:
        """Cached blocks for the longest prefix of `seq`, leaving >= 1 token to compute.

        The last token is always recomputed because the step needs its logits, and so is every
        position from `seq.logits_from` on (logits are not cached, only K/V).
        """
        if not self.prefix_caching:
            return []
        bs, toks, out = self.block_size, seq.tokens, []
        limit = (len(toks) - 1) // bs
        if seq.logits_from is not None:
            limit = min(limit, seq.logits_from // bs)
        parent = seq.cache_salt
        for i in range(limit):
            chunk = tuple(toks[i * bs : (i + 1) * bs])
            h = block_hash(parent, chunk)
            bid = self.cached.get(h)
            if bid is None or self.blocks[bid].tokens != chunk:
                break
            out.append(bid)
            parent = h
        return out

    def can_admit(self, hits: list[int], num_tokens: int) -> bool:
        """Whether `hits` plus fresh blocks up to `num_tokens` tokens fit in the free pool."""
        revived = sum(1 for b in hits if self.blocks[b].ref == 0)
        fresh = max(0, self.blocks_for(num_tokens) - len(hits))
        return revived + fresh <= self.num_free

    def admit(self, seq: Sequence, hits: list[int]) -> int:
        """Attach cache hits to a sequence with no blocks; return the tokens they cover."""
        assert not seq.block_table and not seq.block_hashes
        self.queries += max(0, (len(seq) - 1) // self.block_size) if self.prefix_caching else 0
        self.hits += len(hits)
        for bid in hits:
            b = self.blocks[bid]
            if b.ref == 0:
                del self.free[bid]
            b.ref += 1
            seq.block_table.append(bid)
            seq.block_hashes.append(b.hash)  # type: ignore[arg-type]
        return len(hits) * self.block_size

    # ---- growth ----------------------------------------------------------------------------
    def ensure(self, seq: Sequence, num_tokens: int) -> bool:
        """Give `seq` blocks for `num_tokens` tokens; False (and no change) if the pool is short."""
        need = self.blocks_for(num_tokens) - len(seq.block_table)
        if need > len(self.free):
            return False
        for _ in range(need):
            seq.block_table.append(self._take())
        return True

    def _take(self) -> int:
        bid, _ = self.free.popitem(last=False)
        b = self.blocks[bid]
        assert b.ref == 0
        if b.hash is not None and self.cached.get(b.hash) == bid:
            del self.cached[b.hash]
        b.hash, b.tokens, b.ref = None, (), 1
        return bid

    def register(self, seq: Sequence) -> None:
        """Key the sequence's newly full, computed blocks so later requests can share them."""
        bs = self.block_size
        full = seq.num_computed // bs
        while len(seq.block_hashes) < full:
            i = len(seq.block_hashes)
            parent = seq.block_hashes[-1] if seq.block_hashes else seq.cache_salt
            chunk = tuple(seq.tokens[i * bs : (i + 1) * bs])
            h = block_hash(parent, chunk)
            seq.block_hashes.append(h)
            b = self.blocks[seq.block_table[i]]
            if self.prefix_caching and b.hash is None and h not in self.cached:
                b.hash, b.tokens = h, chunk
                self.cached[h] = b.id

    # ---- release ---------------------------------------------------------------------------
    def free_seq(self, seq: Sequence) -> None:
        """Drop the sequence's references; tail blocks go to the free list first (evicted first)."""
        for bid in reversed(seq.block_table):
            b = self.blocks[bid]
            assert b.ref > 0, f"double free of block {bid}"
            b.ref -= 1
            if b.ref == 0:
                self.free[bid] = None
        seq.block_table.clear()
        seq.block_hashes.clear()

    def fork(self, parent: Sequence, child: Sequence) -> list[tuple[int, int]]:
        """Share the parent's full blocks with `child`; copy its partial last block.

        Returns (src, dst) block copies the model runner must do before the next step. Raises
        MemoryError if no block is free for the copy.
        """
        assert not child.block_table
        bs, n = self.block_size, parent.num_computed
        full = n // bs
        copies = []
        for bid in parent.block_table[:full]:
            self.blocks[bid].ref += 1
            child.block_table.append(bid)
        if len(parent.block_table) > full:
            if not self.free:
                for bid in child.block_table:
                    self.blocks[bid].ref -= 1
                child.block_table.clear()
                raise MemoryError("no free block to copy the parent's partial block into")
            dst = self._take()
            child.block_table.append(dst)
            copies.append((parent.block_table[full], dst))
        child.num_computed = n
        child.block_hashes = list(parent.block_hashes[:full])
        return copies

    def check(self, seqs: list[Sequence]) -> None:
        """Invariants: counts equal live references; free list = blocks with count 0, no dups."""
        refs = [0] * len(self.blocks)
        for s in seqs:
            for bid in s.block_table:
                refs[bid] += 1
        for b in self.blocks:
            assert b.ref == refs[b.id], f"block {b.id}: ref {b.ref} != {refs[b.id]} live references"
            assert (b.ref == 0) == (b.id in self.free), f"block {b.id}: free list disagrees"
        for h, bid in self.cached.items():
            assert self.blocks[bid].hash == h
