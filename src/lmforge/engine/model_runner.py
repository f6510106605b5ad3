"""Owns the model and the KV cache tensors; turns a scheduled step into one forward pass.

The KV cache is sized from a budget (GB, or a fraction of free RAM/VRAM) into a number of blocks
once at start. Each step builds flat input ids/positions, the slot of every new token, and the
attention metadata; it projects to logits only the rows a step needs (the last token of each
sequence that reaches its end, plus the rows of prompt logprobs/scoring), which is most of the
saving on long prefills. A step that is one plain decode token (batch 1, no adapter, no drafts)
runs as one fused C++ call where the model allows it (kernels/fused.py); all others run the
model's torch forward, whose decode attention is one C++ call per layer over every decode row's
block table where the kernel applies (kernels/paged.py), else length groups of gathered blocks.
"""

import logging
import os

import torch
from torch import Tensor

from lmforge.engine.attention import AttnMeta, DecodeGroup, PrefillSpan
from lmforge.engine.kernels.fused import FusedDecode
from lmforge.engine.kernels.paged import PagedAttention
from lmforge.engine.kv_cache import allocate, bytes_per_token, copy_block
from lmforge.engine.llama import LlamaForCausalLM
from lmforge.engine.lora import LoRAManager
from lmforge.engine.scheduler import Scheduled
from lmforge.errors import LMForgeError

log = logging.getLogger(__name__)


def free_memory(device: torch.device) -> int:
    """Bytes the KV cache may take: free VRAM, or the kernel's MemAvailable (page cache counts as
    free, as psutil's `available` does) without making psutil an engine dependency."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def decode_groups(lengths: list[int], slack: float = 1.25) -> list[list[int]]:
    """Split indices sorted by length into groups whose padded size stays within `slack` x."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    total = 0
    for i in order:
        cur = groups[-1] if groups else None
        if cur and (len(cur) + 1) * lengths[i] <= slack * (total + lengths[i]):
            cur.append(i)
            total += lengths[i]
        else:
            groups.append([i])
            total = lengths[i]
    return groups


class ModelRunner:
    def __init__(
        self,
        model: LlamaForCausalLM,
        block_size: int,
        dtype: torch.dtype,
        device: torch.device,
        kv_cache_gb: float | None,
        kv_cache_fraction: float,
        kv_cache_dtype: str = "auto",
    ) -> None:
        self.model = model
        self.block_size = block_size
        self.device = device
        s = model.spec
        self.window = s.sliding_window
        self.token_bytes = s.num_layers * bytes_per_token(
            kv_cache_dtype, s.num_kv_heads, s.head_dim, dtype
        )
        per_block = block_size * self.token_bytes  # blocks are counted by bytes
        budget = kv_cache_gb * 1e9 if kv_cache_gb else kv_cache_fraction * free_memory(device)
        self.num_blocks = int(budget // per_block)
        if self.num_blocks < 1:
            raise LMForgeError(
                f"KV cache budget {budget / 1e9:.3f} GB < one block ({per_block} bytes); "
                "raise kv_cache_gb or kv_cache_fraction"
            )
        shape = (self.num_blocks, block_size, s.num_kv_heads, s.head_dim)
        self.kv = [
            (
                allocate(kv_cache_dtype, shape, dtype, device),
                allocate(kv_cache_dtype, shape, dtype, device),
            )
            for _ in range(s.num_layers)
        ]
        self.kv_bytes = per_block * self.num_blocks
        self.lora: LoRAManager | None = None  # set by the engine; tells LoRA layers their rows
        self.fused, self.fused_reason = (
            FusedDecode.build(model, self.kv, block_size) if device.type == "cpu" else (None, "")
        )
        if self.fused is not None:
            log.info("batch-1 decode: fused C++ step (isa level %d)", self.fused.isa)
        elif self.fused_reason:
            log.info("batch-1 decode: torch path (%s)", self.fused_reason)
        self.paged, why = PagedAttention.build(s, self.kv, block_size, device, dtype)
        log.info("batched decode attention: %s", "C++ over block tables" if self.paged else why)

    def copy_blocks(self, copies: list[tuple[int, int]]) -> None:
        for src, dst in copies:
            for kc, vc in self.kv:
                copy_block(kc, src, dst)
                copy_block(vc, src, dst)

    def order(self, batch: list[Scheduled]) -> list[list[int]]:
        """Reorder `batch` in place: decodes grouped by context length, then prefills.

        Returns the decode groups as index ranges into the new order.
        """
        decodes = [it for it in batch if _is_decode(it)]
        prefills = [it for it in batch if not _is_decode(it)]
        if self.paged is not None:  # one kernel call for all decodes: no groups needed
            batch[:] = decodes + prefills
            return [list(range(len(decodes)))] if decodes else []
        groups = decode_groups([it.seq.num_computed + 1 for it in decodes])
        batch[:] = [decodes[i] for g in groups for i in g] + prefills
        out, at = [], 0
        for g in groups:
            out.append(list(range(at, at + len(g))))
            at += len(g)
        return out

    def _tensor(self, xs: list[int]) -> Tensor:
        """A long tensor on the device; on CUDA via pinned memory with a non-blocking copy, so
        building a step's metadata never waits for the previous step's kernels."""
        t = torch.tensor(xs, dtype=torch.long)
        if self.device.type == "cpu":
            return t
        return t.pin_memory().to(self.device, non_blocking=True)

    def _meta(
        self, batch: list[Scheduled], groups: list[list[int]]
    ) -> tuple[Tensor, Tensor, AttnMeta, list[int]]:
        bs = self.block_size
        ids: list[int] = []
        pos: list[int] = []
        slots: list[int] = []
        rows: list[int] = []
        n_dec = sum(len(g) for g in groups)
        for item in batch[:n_dec]:  # decodes: one token each (a 1-token chunk may not sample)
            s, p = item.seq, item.seq.num_computed
            if item.rows:  # the sampled row, or a prompt row that scoring asked for
                rows.append(len(ids))
            ids.append(s.token_at(p))
            pos.append(p)
            slots.append(s.block_table[p // bs] * bs + p % bs)
        prefills: list[PrefillSpan] = []
        for item in batch[n_dec:]:
            s, start, n = item.seq, item.seq.num_computed, item.num_tokens
            end = start + n
            assert len(s.block_table) * bs >= end, "scheduler gave too few blocks"
            table = self._tensor(s.block_table[: -(-end // bs)])
            prefills.append(PrefillSpan(len(ids), len(ids) + n, start, table))
            ids.extend(s.tokens[start:end])
            pos.extend(range(start, end))
            slots.extend(s.block_table[p // bs] * bs + p % bs for p in range(start, end))
            keep = item.rows  # a suffix of the chunk: prompt rows asked for, then the sampled one
            rows.extend(range(len(ids) - len(keep), len(ids)))
        meta = AttnMeta(self._tensor(slots), [], prefills, self.window)
        if self.paged is not None and n_dec:
            nb = [-(-(it.seq.num_computed + 1) // bs) for it in batch[:n_dec]]
            tables = [it.seq.block_table[:w] for it, w in zip(batch[:n_dec], nb, strict=True)]
            meta.paged = self.paged.rows(tables, [it.seq.num_computed + 1 for it in batch[:n_dec]])
        else:
            meta.decode_groups = [self._decode_group(batch, g) for g in groups]
        return self._tensor(ids), self._tensor(pos), meta, rows

    def _decode_group(self, batch: list[Scheduled], g: list[int]) -> DecodeGroup:
        bs = self.block_size
        lens = [batch[i].seq.num_computed + 1 for i in g]
        longest = max(lens)
        width = -(-longest // bs)
        blocks: list[int] = []
        for i in g:
            table = batch[i].seq.block_table[:width]
            blocks.extend(table + [0] * (width - len(table)))  # padding rows read block 0
        mask = None
        w = self.window
        if min(lens) < longest or (w is not None and longest > w):
            at, n = torch.arange(longest), torch.tensor(lens).unsqueeze(1)
            keep = at < n
            if w is not None:
                keep &= at >= n - w  # sliding window: self and the w - 1 tokens before it
            mask = keep[:, None, None]
            if self.device.type != "cpu":
                mask = mask.pin_memory().to(self.device, non_blocking=True)
        return DecodeGroup(g[0], g[-1] + 1, self._tensor(blocks), longest, mask)

    @torch.inference_mode()
    def run(self, batch: list[Scheduled]) -> Tensor:
        """Compute the scheduled tokens (decodes first; `batch` is reordered in place).

        Returns logits [sum of len(item.rows), vocab]: each item's `rows`, in the new batch order
        (for most items just the sampled last row; prompt-logprob and scoring items ask for more).
        """
        if self.fused is not None and len(batch) == 1 and _plain_decode(batch[0]):
            s = batch[0].seq
            p = s.num_computed
            return self.fused.step(s.token_at(p), p, s.block_table, bool(batch[0].rows))
        ids, pos, meta, rows = self._meta(batch, self.order(batch))
        if self.lora is not None and self.lora.wrapped:
            self.lora.prepare([(it.seq.adapter, it.num_tokens) for it in batch])
        hidden = self.model(ids, pos, meta, self.kv)
        if len(rows) < hidden.shape[0]:
            hidden = hidden[self._tensor(rows)]
        return self.model.logits(hidden)


def _is_decode(item: Scheduled) -> bool:
    return item.num_tokens == 1 and item.seq.num_computed > 0


def _plain_decode(item: Scheduled) -> bool:
    """One decode token of the base model: what the fused step computes."""
    return _is_decode(item) and not item.draft and item.seq.adapter is None
