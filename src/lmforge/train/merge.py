"""`lmforge train merge`: fold a LoRA adapter into its base, save plain safetensors.

The merged model must be the same function as base+adapter: we check it on probe tokens before
anything is written (max |logit difference| recorded in the manifest) and refuse past a
tolerance, since a silent mismatch (wrong base, wrong dtype) would ship a different model.
"""

import json
from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.extras import require
from lmforge.models.loader import resolve_model_dir
from lmforge.runs import Run
from lmforge.train.checkpoints import save_atomically
from lmforge.train.config import MergeConfig

TOLERANCE = 1e-3


def adapter_base(adapter: Path, base: str | None) -> Path:
    """The base the adapter was trained on (or the one given), as a checked local dir."""
    cfg_file = adapter / "adapter_config.json"
    if not cfg_file.is_file():
        raise LMForgeError(f"{adapter}: no adapter_config.json; give a LoRA adapter directory")
    named = json.loads(cfg_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
    ref = base or named
    if not ref:
        raise LMForgeError(f"{cfg_file}: names no base model; pass --base")
    return resolve_model_dir(ref)


def merge_adapter(cfg: MergeConfig, run: Run) -> dict[str, Any]:
    """Merge, verify logits against base+adapter, save atomically; return the metrics."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    peft = require("train", "peft")
    adapter = Path(cfg.adapter).expanduser()
    base_dir = adapter_base(adapter, cfg.base)
    run.add_input(adapter, role="adapter")
    run.add_input(base_dir, role="base_model")
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    if len(tokenizer) > base.get_input_embeddings().num_embeddings:
        base.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    model = peft.PeftModel.from_pretrained(base, adapter).eval()
    probe = torch.tensor([tokenizer("The merged model must match, token for token.")["input_ids"]])
    with torch.no_grad():
        expected = model(probe).logits
        merged = model.merge_and_unload().eval()
        diff = (merged(probe).logits - expected).abs().max().item()
    if diff > TOLERANCE:
        raise LMForgeError(
            f"merged logits differ from base+adapter by {diff:.2e} (> {TOLERANCE}); "
            f"is {base_dir} the base this adapter was trained on? pass --base"
        )

    def write(d: Path) -> None:
        merged.save_pretrained(d, safe_serialization=True)
        tokenizer.save_pretrained(d)

    out = save_atomically(Path(cfg.output), write)
    run.add_output(out, role="merged_model")
    metrics = {"max_abs_logit_diff": diff, "output": str(out), "base": str(base_dir)}
    run.log_metrics(**metrics)
    return metrics
