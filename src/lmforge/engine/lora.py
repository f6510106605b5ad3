"""Many PEFT LoRA adapters over one base model, mixed in one batch (S-LoRA / Punica style).

An adapter is read from a PEFT directory (adapter_config.json + adapter_model.safetensors, what
`lmforge train` writes) onto our fused layout: the q/k/v adapters of a layer become one shrink
matrix A [r_q + r_k + r_v, in] and one block-diagonal expand matrix B [q + k + v, r_q + r_k + r_v]
(scale folded in), so a fused projection gets one shrink and one expand per adapter, as gate/up do.

Every step the runner tells the manager which flat rows belong to which adapter; each wrapped
linear computes the base output for all rows once, then for each adapter segment in the step
`y[rows] += (x[rows] @ A^T) @ B^T`. A batch with 8 adapters is one forward with 8 small grouped
matmul pairs per projection, not 8 forwards. Rows of an adapter are kept as a slice when they are
contiguous (a prefill chunk) and as an index otherwise (decodes ordered by context length).

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
_salts = itertools.count(1)


class AdapterError(LMForgeError):
    """An adapter is unknown (`missing`) or does not fit this base model."""

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(slots=True, eq=False)
class Adapter:
    """One loaded adapter: per wrapped module (e.g. "layers.3.self_attn.qkv_proj") its A, B."""

    name: str
    path: Path
    rank: int
    targets: tuple[str, ...]
    base: str | None  # base_model_name_or_path from adapter_config.json
    weights: dict[str, tuple[Tensor, Tensor]]
    salt: int = field(default_factory=lambda: next(_salts))  # prefix-cache namespace per load

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes + b.nbytes for a, b in self.weights.values())


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
        ranks = [a.shape[0] for a in a_list]
        big_b = torch.zeros(sum(outs), sum(ranks))
        col = 0
        for (part, b), rk in zip(blocks, ranks, strict=True):
            row = sum(outs[:part])
            big_b[row : row + outs[part], col : col + rk] = b.float() * scale
            col += rk
        big_a = torch.cat([a.float() for a in a_list], 0)
        weights[module] = (
            big_a.to(dtype).to(device).contiguous(),
            big_b.to(dtype).to(device).contiguous(),
        )
    base = cfg.get("base_model_name_or_path")
    return Adapter(name, p, r, tuple(sorted(targets)), base, weights)


class LoRALinear(nn.Module):
    """A base projection (float, int8 or int4) plus the step's adapter segments."""

    def __init__(self, base: nn.Module, key: str, manager: "LoRAManager") -> None:
        super().__init__()
        self.base = base
        self.key = key
        self._manager = [manager]  # in a list: not a submodule

    def forward(self, x: Tensor) -> Tensor:
        y = self.base(x)
        for adapter, rows in self._manager[0].segments:
            w = adapter.weights.get(self.key)
            if w is None:
                continue
            a, b = w
            if isinstance(rows, slice):
                y[rows] += (x[rows] @ a.T) @ b.T
            else:
                y.index_add_(0, rows, (x.index_select(0, rows) @ a.T) @ b.T)
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
        self.segments: list[tuple[Adapter, slice | Tensor]] = []
        self.wrapped = False

    def _wrap(self) -> None:
        for i, layer in enumerate(self.model.layers):
            for owner, attr in (
                (layer.self_attn, "qkv_proj"),
                (layer.self_attn, "o_proj"),
                (layer.mlp, "gate_up_proj"),
                (layer.mlp, "down_proj"),
            ):
                sub = "self_attn" if owner is layer.self_attn else "mlp"
                key = f"layers.{i}.{sub}.{attr}"
                setattr(owner, attr, LoRALinear(getattr(owner, attr), key, self))
        self.wrapped = True

    def load(self, name: str, path: str | Path, in_use: set[str] = frozenset()) -> Adapter:
        """Read (or re-read) adapter `name` from `path` and make it the most recent."""
        if not name or ":" in name or "/" in name:
            raise AdapterError(f"adapter name {name!r} is invalid: non-empty, no ':' or '/'")
        adapter = read_adapter(name, path, self.model.spec, self.max_rank, self.dtype, self.device)
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

    def prepare(self, row_adapters: list[Adapter | None]) -> None:
        """Set this step's segments from the adapter of every flat row (None = base only)."""
        self.segments = []
        if not any(row_adapters):
            return
        rows: dict[int, tuple[Adapter, list[int]]] = {}
        for i, a in enumerate(row_adapters):
            if a is not None:
                rows.setdefault(id(a), (a, []))[1].append(i)
        for adapter, idx in rows.values():
            if idx[-1] - idx[0] + 1 == len(idx):
                self.segments.append((adapter, slice(idx[0], idx[-1] + 1)))
            else:
                self.segments.append((adapter, torch.tensor(idx, device=self.device)))
