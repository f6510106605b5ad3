"""Per-layer resume state in `<out>/.lmforge-quant/`: a rerun skips the layers already done.

After each layer: its codes/grids and its float parameters (norms, changed by AWQ's scaling),
and the calibration activations it produced (the next layer's input). The settings that decide
the result are recorded; resuming with different ones is refused rather than mixed.
"""

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from lmforge.errors import LMForgeError
from lmforge.files import atomic_write_json
from lmforge.quant.grid import QuantizedWeight

FIELDS = ("qweight", "scales", "zeros", "g_idx")


class LayerState:
    def __init__(self, out: Path, fingerprint: dict[str, Any]) -> None:
        self.dir = out / ".lmforge-quant"
        self.fingerprint = fingerprint
        meta = self.dir / "state.json"
        self.done = 0
        if meta.is_file():
            saved = json.loads(meta.read_text())
            if saved["fingerprint"] != fingerprint:
                diff = sorted(
                    k for k in fingerprint if saved["fingerprint"].get(k) != fingerprint[k]
                )
                raise LMForgeError(
                    f"{out}: holds a partial quantization with other settings ({', '.join(diff)}); "
                    "use another --out or delete that directory"
                )
            self.done = saved["layers_done"]

    def save(
        self, i: int, layer: nn.Module, res: dict[str, QuantizedWeight], hidden: list[Tensor]
    ) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        t: dict[str, Tensor] = {}
        for name, q in res.items():
            t[f"{name}.qweight"] = q.qweight.to(torch.uint8)
            t[f"{name}.scales"] = q.scales
            t[f"{name}.zeros"] = q.zeros.to(torch.uint8)
            t[f"{name}.g_idx"] = q.g_idx
        for key, p in layer.state_dict().items():
            if key.removesuffix(".weight") not in res:
                t[f"float.{key}"] = p.contiguous()
        _save(t, self.dir / f"layer-{i:05d}.safetensors")
        if hidden:
            _save(
                {f"h{j}": h.contiguous() for j, h in enumerate(hidden)},
                self.dir / "hidden.safetensors",
            )
        self.done = i + 1
        atomic_write_json(
            self.dir / "state.json", {"fingerprint": self.fingerprint, "layers_done": self.done}
        )

    def load(self, i: int, layer: nn.Module, bits: int) -> dict[str, QuantizedWeight]:
        t = load_file(str(self.dir / f"layer-{i:05d}.safetensors"))
        names = {k.rsplit(".", 1)[0] for k in t if not k.startswith("float.")}
        res = {
            n: QuantizedWeight(
                t[f"{n}.qweight"].to(torch.int32),
                t[f"{n}.scales"],
                t[f"{n}.zeros"].to(torch.int32),
                t[f"{n}.g_idx"],
                bits,
            )
            for n in names
        }
        mods = dict(layer.named_modules())
        with torch.no_grad():
            for n, q in res.items():
                mods[n].weight.copy_(q.dequantize())
            for key, p in layer.state_dict().items():
                if f"float.{key}" in t:
                    p.copy_(t[f"float.{key}"])
        return res

    def hidden(self) -> list[Tensor]:
        t = load_file(str(self.dir / "hidden.safetensors"))
        return [t[f"h{j}"] for j in range(len(t))]

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _save(t: dict[str, Tensor], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    save_file(t, str(tmp))
    tmp.replace(path)
