"""`lmforge quickstart`: the lifecycle pipeline on the embedded defaults, then one chat turn.

The pipeline (quickstart.yaml beside this file) curates a crawl-like corpus, fine-tunes the
default model with LoRA on a task built from it, merges it, evaluates base against tuned on
held-out pages with a paired bootstrap, answers a question from the curated pages with
citations, and serves and load-tests the tuned model. `highlights` picks what the command
prints at the end; the closing chat turn shows the tuned model at work in-process.
"""

import time
from pathlib import Path
from typing import Any

from lmforge.config import QuickstartConfig
from lmforge.models import load_model, render_chat
from lmforge.runs import Run

EMBEDDED = Path(__file__).with_name("quickstart.yaml")


def quickstart_pipeline(cfg: QuickstartConfig) -> Path:
    return cfg.pipeline or EMBEDDED


def tuned_model(results: list[Any]) -> str:
    """The last model a stage produced (the merged fine-tune), else the default model."""
    for r in reversed(results):
        if "model" in r.outputs:
            return str(r.outputs["model"])
    return "default"


def highlights(results: list[Any]) -> dict[str, Any]:
    """What improved (the gain sentence), the RAG answers and the served model's answers."""
    out: dict[str, Any] = {"sentence": None, "answers": [], "demo": []}
    for r in results:
        out["sentence"] = r.metrics.get("sentence") or out["sentence"]
        out["answers"] += r.metrics.get("answers") or []
        out["demo"] += r.metrics.get("demo") or []
    return out


def chat_once(cfg: QuickstartConfig, model: str, run: Run) -> dict[str, Any]:
    """Generate one greedy answer to `cfg.prompt`; return the answer and throughput figures."""
    import torch

    t0 = time.perf_counter()
    lm = load_model(model)
    run.time("load_s", time.perf_counter() - t0)
    run.add_input(lm.path, role="model")

    messages = [{"role": "user", "content": cfg.prompt}]
    if cfg.system:
        messages.insert(0, {"role": "system", "content": cfg.system})
    prompt = render_chat(lm.tokenizer, messages)
    ids = lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    t1 = time.perf_counter()
    with torch.inference_mode():
        out = lm.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=cfg.max_new_tokens,
            do_sample=False,
            pad_token_id=lm.tokenizer.pad_token_id or lm.tokenizer.eos_token_id,
        )
    seconds = time.perf_counter() - t1
    new = out[0, ids.shape[1] :]
    answer = lm.tokenizer.decode(new, skip_special_tokens=True).strip()
    result = {
        "answer": answer,
        "prompt_tokens": int(ids.shape[1]),
        "new_tokens": int(new.numel()),
        "generate_s": round(seconds, 3),
        "tokens_per_s": round(new.numel() / seconds, 2) if seconds > 0 else 0.0,
        "threads": torch.get_num_threads(),
        "model_path": str(lm.path),
    }
    run.log_metrics(**{k: v for k, v in result.items() if k != "answer"})
    return result
