"""Many PEFT LoRA adapters over one base model, mixed in one batch (S-LoRA / Punica style).

An adapter is read from a PEFT directory (adapter_config.json + adapter_model.safetensors, what
`lmforge train` writes) onto our fused layout: the q/k/v adapters of a layer become one shrink
matrix A [r_q + r_k + r_v, in] and one B^T block per part ([r_p, out_p], scale folded in), so a
fused projection gets one shrink per adapter and only the nonzero blocks of its expand.

Every step the runner tells the manager which flat rows belong to which adapter; the manager
groups them once, and each wrapped linear computes the base output for all rows, then adds
`(x[rows] @ A^T) @ B^T` per adapter segment. On a CPU with fp32 weights that is one C++ call per
projection for all segments (kernels/lora.cpp; a step mixing 8 adapters otherwise made ~3,800
small ATen ops); elsewhere torch ops per segment and part. A batch with 8 adapters is one
forward, not 8.

The linears are wrapped the first time an adapter is loaded, so an engine that never serves an
adapter runs the plain model. Adapters live in memory under an LRU bound (`max_loras`); an evicted
one stays registered and is read back from disk when a request names it again.
"""

import itertools
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lmforge.engine.kernels.sgmv import Plan, kernel_isa, seg_table
from lmforge.errors import LMForgeError

log = logging.getLogger(__name__)

# PEFT target -> (our fused module, index of its part); part sizes come from the model spec.
TARGETS = {
    "q_proj": ("self_attn.qkv_proj", 0),
    "k_proj": ("self_attn.qkv_proj", 1),
    "v_proj": ("self_attn.qkv_proj", 2),
    "o_proj": ("self_attn.o_proj", 0),
    "gate_proj": ("mlp.gate_up_proj", 0),
    "up_proj": ("mlp.gate_up_proj", 1),
    "down_proj": ("mlp.down_proj", 0),
}
MODULES = ("self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj", "mlp.down_proj")
_salts = itertools.count(1)


class AdapterError(LMForgeError):
    """An adapter is unknown (`missing`) or does not fit this base model."""

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(slots=True, frozen=True, eq=False)
class LoRAWeight:
    """One adapter's weights for one fused projection."""

    a: Tensor  # [R, in]: the targeted parts' A, stacked
    bt: Tensor  # flat: per part its B^T [rn, on] with the scale folded in
    parts: tuple[tuple[int, int, int, int, int], ...]  # (r0, rn, o0, on, offset in bt) per part

    def add_to(self, x: Tensor, y: Tensor, rows: slice | Tensor) -> None:
        """y[rows] += (x[rows] @ A^T) @ B^T with torch ops (the path off the C++ kernel)."""
        t = (x[rows] if isinstance(rows, slice) else x.index_select(0, rows)) @ self.a.T
        for r0, rn, o0, on, off in self.parts:
            d = t[:, r0 : r0 + rn] @ self.bt[off : off + rn * on].view(rn, on)
            if isinstance(rows, slice):
                y[rows, o0 : o0 + on] += d
            else:
                y[:, o0 : o0 + on].index_add_(0, rows, d)


@dataclass(slots=True, eq=False)
class Adapter:
    """One loaded adapter: per wrapped module (e.g. "layers.3.self_attn.qkv_proj") its A, B."""

    name: str
    path: Path
    rank: int
    targets: tuple[str, ...]
    base: str | None  # base_model_name_or_path from adapter_config.json
    weights: dict[str, LoRAWeight]
    salt: int = field(default_factory=lambda: next(_salts))  # prefix-cache namespace per load
    table: Any = None  # kernels/sgmv.seg_table rows, one per wrapped projection (C++ path)

    @property
    def nbytes(self) -> int:
        return sum(w.a.nbytes + w.bt.nbytes for w in self.weights.values())


def part_sizes(spec: Any) -> dict[str, list[int]]:
    """Output sizes of the parts of each fused module kind, and each kind's input size."""
    h, kv, d = spec.num_heads, spec.num_kv_heads, spec.head_dim
    return {
        "self_attn.qkv_proj": [h * d, kv * d, kv * d],
        "self_attn.o_proj": [spec.hidden_size],
        "mlp.gate_up_proj": [spec.intermediate_size, spec.intermediate_size],
        "mlp.down_proj": [spec.hidden_size],
    }


def in_size(spec: Any, module: str) -> int:
    return {
        "self_attn.qkv_proj": spec.hidden_size,
        "self_attn.o_proj": spec.num_heads * spec.head_dim,
        "mlp.gate_up_proj": spec.hidden_size,
        "mlp.down_proj": spec.intermediate_size,
    }[module]


def read_adapter(
    name: str, path: str | Path, spec: Any, max_rank: int, dtype: torch.dtype, device: Any
) -> Adapter:
    """Read and check a PEFT LoRA directory against the base `spec`; AdapterError names the
    file and field at fault (missing dir, unsupported option, shape of another base)."""
    from safetensors.torch import load_file

    p = Path(path).expanduser()
    cfg_file, w_file = p / "adapter_config.json", p / "adapter_model.safetensors"
    if not cfg_file.is_file():
        raise AdapterError(
            f"adapter {name!r}: {cfg_file} not found (give a PEFT LoRA directory, "
            "as `lmforge train` writes)",
            missing=True,
        )
    if not w_file.is_file():
        raise AdapterError(f"adapter {name!r}: {w_file} not found (safetensors only)", True)
    cfg = json.loads(cfg_file.read_text())
    where = f"adapter {name!r} ({cfg_file})"
    if cfg.get("peft_type", "LORA") != "LORA":
        raise AdapterError(f"{where}: peft_type {cfg.get('peft_type')!r}; only LORA is served")
    for key, off in (("use_dora", False), ("bias", "none")):
        if cfg.get(key, off) != off:
            raise AdapterError(f"{where}: {key}={cfg[key]!r} is not supported (need {off!r})")
    for key in ("modules_to_save", "rank_pattern", "alpha_pattern"):
        if cfg.get(key):
            raise AdapterError(f"{where}: {key}={cfg[key]!r} is not supported; retrain without")
    r, alpha = int(cfg.get("r", 8)), float(cfg.get("lora_alpha", 8))
    if r > max_rank:
        raise AdapterError(f"{where}: rank r={r} exceeds the engine's max_lora_rank={max_rank}")
    scale = alpha / (r**0.5) if cfg.get("use_rslora") else alpha / r
    parts: dict[str, dict[int, list[Tensor | None]]] = {}  # module -> part -> [A, B]
    targets: set[str] = set()
    for key, t in load_file(str(w_file)).items():
        short = key.removeprefix("base_model.model.").removeprefix("model.")
        short = short.replace(".default.", ".")
        *mod, kind, _ = short.split(".")
        if kind not in ("lora_A", "lora_B") or len(mod) < 4 or mod[0] != "layers":
            raise AdapterError(f"{where}: tensor {key} is not a LoRA weight of a decoder layer")
        layer, target = int(mod[1]), mod[-1]
        if target not in TARGETS:
            raise AdapterError(
                f"{where}: target module {target!r} is not servable; "
                f"servable targets: {', '.join(TARGETS)}"
            )
        if layer >= spec.num_layers:
            raise AdapterError(
                f"{where}: has layer {layer} but the base has {spec.num_layers} layers "
                f"(trained for another base: {cfg.get('base_model_name_or_path')})"
            )
        fused, part = TARGETS[target]
        targets.add(target)
        slot = parts.setdefault(f"layers.{layer}.{fused}", {}).setdefault(part, [None, None])
        slot[kind == "lora_B"] = t
    if not parts:
        raise AdapterError(f"{where}: {w_file.name} holds no LoRA weights")
    sizes = part_sizes(spec)
    weights = {}
    for module, by_part in parts.items():
        kind = module.split(".", 2)[2]
        outs, k = sizes[kind], in_size(spec, kind)
        a_list, blocks = [], []
        for part, (a, b) in sorted(by_part.items()):
            if a is None or b is None:
                raise AdapterError(f"{where}: {module} part {part} lacks lora_A or lora_B")
            want_a, want_b = (a.shape[0], k), (outs[part], a.shape[0])
            if tuple(a.shape) != want_a or tuple(b.shape) != want_b:
                raise AdapterError(
                    f"{where}: {module} has A {tuple(a.shape)}, B {tuple(b.shape)} but this base "
                    f"needs A {want_a}, B {want_b} (trained for another base: "
                    f"{cfg.get('base_model_name_or_path')})"
                )
            a_list.append(a)
            blocks.append((part, b))
        parts_at, bts, r0, off = [], [], 0, 0
        for (part, b), a in zip(blocks, a_list, strict=True):
            rn, on, o0 = a.shape[0], outs[part], sum(outs[:part])
            parts_at.append((r0, rn, o0, on, off))
            bts.append((b.float() * scale).T.reshape(-1))
            r0, off = r0 + rn, off + rn * on
        big_a = torch.cat([a.float() for a in a_list], 0)
        weights[module] = LoRAWeight(
            big_a.to(dtype).to(device).contiguous(),
            torch.cat(bts).to(dtype).to(device).contiguous(),
            tuple(parts_at),
        )
    base = cfg.get("base_model_name_or_path")
    return Adapter(name, p, r, tuple(sorted(targets)), base, weights)


class LoRALinear(nn.Module):
    """A base projection (float, int8 or int4) plus the step's adapter deltas."""

    def __init__(self, base: nn.Module, key: str, index: int, manager: "LoRAManager") -> None:
        super().__init__()
        self.base = base
        self.key = key
        self.index = index  # row of the step plan's table
        self._manager = [manager]  # in a list: not a submodule

    def forward(self, x: Tensor) -> Tensor:
        y = self.base(x)
        m = self._manager[0]
        if m.plan is not None:
            return m.plan.apply(self.index, x, y)
        for adapter, rows in m.segments:
            w = adapter.weights.get(self.key)
            if w is not None:
                w.add_to(x, y, rows)
        return y


class LoRAManager:
    """Registered adapters (name -> path), the LRU set in memory, and the step's segments."""

    def __init__(
        self,
        model: nn.Module,
        max_loras: int,
        max_rank: int,
        dtype: torch.dtype,
        device: Any,
    ) -> None:
        self.model, self.max_loras, self.max_rank = model, max_loras, max_rank
        self.dtype, self.device = dtype, device
        self.paths: dict[str, Path] = {}
        self.loaded: OrderedDict[str, Adapter] = OrderedDict()  # LRU order, oldest first
        self.segments: list[tuple[Adapter, slice | Tensor]] = []  # torch path
        self.plan: Plan | None = None  # C++ path
        self.isa = kernel_isa(torch.device(device), dtype)
        self.wrapped = False

    def _wrap(self) -> None:
        for i, layer in enumerate(self.model.layers):
            for j, module in enumerate(MODULES):
                sub, attr = module.split(".")
                owner = getattr(layer, sub)
                key = f"layers.{i}.{module}"
                setattr(owner, attr, LoRALinear(getattr(owner, attr), key, 4 * i + j, self))
        self.wrapped = True

    def load(self, name: str, path: str | Path, in_use: set[str] = frozenset()) -> Adapter:
        """Read (or re-read) adapter `name` from `path` and make it the most recent."""
        if not name or ":" in name or "/" in name:
            raise AdapterError(f"adapter name {name!r} is invalid: non-empty, no ':' or '/'")
        adapter = read_adapter(name, path, self.model.spec, self.max_rank, self.dtype, self.device)
        if self.isa:
            keys = [f"layers.{i}.{m}" for i in range(len(self.model.layers)) for m in MODULES]
            adapter.table = seg_table([adapter.weights.get(k) for k in keys])
        if not self.wrapped:
            self._wrap()
        self.loaded.pop(name, None)
        self._make_room(in_use | {name}, name)
        self.paths[name] = adapter.path
        self.loaded[name] = adapter
        log.info("adapter %s: rank %d, %s (%s)", name, adapter.rank, adapter.targets, path)
        return adapter

    def _make_room(self, in_use: set[str], name: str) -> None:
        while len(self.loaded) >= self.max_loras:
            idle = next((n for n in self.loaded if n not in in_use), None)
            if idle is None:
                raise AdapterError(
                    f"cannot load adapter {name!r}: all max_loras={self.max_loras} adapters in "
                    "memory are in use by running requests; raise max_loras or retry later"
                )
            del self.loaded[idle]  # stays registered; read back from disk on its next use
            log.info("adapter %s evicted from memory (LRU, max_loras=%d)", idle, self.max_loras)

    def unload(self, name: str) -> None:
        if name not in self.paths:
            raise AdapterError(self._unknown(name), missing=True)
        del self.paths[name]
        self.loaded.pop(name, None)

    def get(self, name: str, in_use: set[str]) -> Adapter:
        """The adapter for a request: in memory (made most recent) or read back from disk."""
        if name in self.loaded:
            self.loaded.move_to_end(name)
            return self.loaded[name]
        if name not in self.paths:
            raise AdapterError(self._unknown(name), missing=True)
        return self.load(name, self.paths[name], in_use)

    def _unknown(self, name: str) -> str:
        known = ", ".join(sorted(self.paths)) or "none"
        return f"adapter {name!r} is not loaded (loaded adapters: {known}); load it first"

    def names(self) -> list[str]:
        return sorted(self.paths)

    def prepare(self, items: list[tuple[Adapter | None, int]]) -> None:
        """Plan this step from (adapter or None, number of flat rows) per scheduled item, in
        the step's row order: rows grouped by adapter once, for every projection."""
        self.segments, self.plan = [], None
        groups: dict[int, tuple[Adapter, list[int]]] = {}
        at = 0
        for a, n in items:
            if a is not None:
                groups.setdefault(id(a), (a, []))[1].extend(range(at, at + n))
            at += n
        if not groups:
            return
        if self.isa:
            self.plan = Plan.build(self.isa, list(groups.values()))
            return
        for adapter, idx in groups.values():
            if idx[-1] - idx[0] + 1 == len(idx):
                self.segments.append((adapter, slice(idx[0], idx[-1] + 1)))
            else:
                self.segments.append((adapter, torch.tensor(idx, device=self.device)))
