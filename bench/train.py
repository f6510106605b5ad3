"""LoRA SFT throughput: lmforge's defaults on TRL vs TRL's defaults, and vs TRL tuned by hand.

    python bench/train.py [--steps 5] [--batch-size 4] [--max-length 256] [--rounds 2]

Same model (the default SmolLM2-135M-Instruct), same data (GSM8K training-half chat turns), same
max_length, batch size, LoRA shape and targets, fp32 on both (TRL's bf16 default is turned off:
the model is fp32 and bf16 autocast would change the numerics, not just the trainer).
lmforge trains through TRL's SFTTrainer too, so the `trl` row compares *defaults*, not
trainers: lmforge packs (BFD, padding-free, per-example position ids honoured by its varlen
attention) and skips gradient checkpointing; TRL by default pads each batch to its longest
example and checkpoints activations. The `trl-tuned` row is TRL configured by hand the way
lmforge configures it (`packing=True`, BFD, `padding_free=True`, `gradient_checkpointing=False`):
the gap between it and lmforge is what lmforge's own code adds. On CPU TRL has no varlen
attention (padding-free needs flash-attention there; with sdpa, examples packed in one row
attend to each other, which TRL warns about), so `trl-tuned` is a throughput reference, not a
correct training setup.

Each measurement runs in a fresh subprocess (so peak RSS is that run's own), lmforge and TRL
alternate (ABBA...) to cancel drift from other load on the machine. tokens/s counts real
(non-padding) tokens through the model's forward pass, over the wall time of steps 2..N
(step 1 warms up allocators).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _token_counter(model: Any) -> dict[str, int]:
    """Count non-padding tokens entering the model (training forwards only)."""
    seen = {"tokens": 0}

    def hook(module: Any, args: tuple, kwargs: dict) -> None:
        if not module.training:
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        seen["tokens"] += int(mask.sum()) if mask is not None else int(ids.numel())

    model.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


def _timer_callback(seen: dict[str, int]) -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.t0 = 0.0
            self.tokens0 = 0

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == 1:
                self.t0, self.tokens0 = time.perf_counter(), seen["tokens"]

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            seen["timed_s"] = time.perf_counter() - self.t0
            seen["timed_tokens"] = seen["tokens"] - self.tokens0

    return StepTimer()


def worker(
    side: str, data: Path, steps: int, batch: int, max_length: int, out: Path, sets: list[str]
) -> None:
    import torch

    from lmforge.config import load_config
    from lmforge.runs import start_run
    from lmforge.train.config import SftConfig
    from lmforge.train.model import load_for_training, lora_config

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    flags = {
        "data.path": str(data), "data.max_length": max_length, "output_dir": str(out / "o"),
        "max_steps": steps, "batch_size": batch, "save_steps": 10_000,
        "threads": torch.get_num_threads(),
    } | dict(kv.split("=", 1) for kv in sets)  # fmt: skip
    cfg = load_config(SftConfig, None, flags)
    if side == "lmforge":
        from lmforge.train.sft import train_sft

        tm = load_for_training(cfg.model, "lora", cfg.lora)
        seen = _token_counter(tm.model)
        with start_run("bench", cfg, out / "runs") as run:
            train_sft(cfg, run, tm=tm, callbacks=(_timer_callback(seen),))
    else:
        import trl
        from datasets import load_dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from lmforge.models.loader import resolve_model_dir

        path = resolve_model_dir("default")
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(path)
        seen = _token_counter(model)
        tuned = (
            {"packing": True, "packing_strategy": "bfd", "padding_free": True,
             "gradient_checkpointing": False}
            if side == "trl-tuned" else {}
        )  # fmt: skip
        args = trl.SFTConfig(
            output_dir=str(out / "o"), max_steps=steps, per_device_train_batch_size=batch,
            max_length=max_length, bf16=False, report_to="none", save_strategy="no",
            use_cpu=True, disable_tqdm=True, **tuned,
        )  # fmt: skip
        trainer = trl.SFTTrainer(
            model=model,
            args=args,
            train_dataset=load_dataset("json", data_files=str(data), split="train"),
            processing_class=tok,
            peft_config=lora_config("llama", cfg.lora),
            callbacks=[_timer_callback(seen)],
        )
        trainer.train()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "side": side,
        "tokens_per_s": seen["timed_tokens"] / seen["timed_s"],
        "timed_tokens": seen["timed_tokens"],
        "timed_s": seen["timed_s"],
        "peak_rss_mb": rss_mb,
        "threads": torch.get_num_threads(),
    }
    (out / "result.json").write_text(json.dumps(result))


SIDES = ("lmforge", "trl", "trl-tuned")


def main() -> None:
    ap = argparse.ArgumentParser(description="LoRA SFT: lmforge defaults vs TRL defaults")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--worker", choices=SIDES)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="lmforge-side override"
    )
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.data, a.steps, a.batch_size, a.max_length, a.out, a.set)
        return
    from lmforge.train.gsm8k import chat_row, split_gsm8k, write_jsonl

    tmp = Path(tempfile.mkdtemp(prefix="lmforge-bench-train-"))
    train, _ = split_gsm8k(seed=0)
    data = write_jsonl(tmp / "gsm8k_chat.jsonl", [chat_row(r) for r in train[: a.examples]])
    order = [s for i in range(a.rounds) for s in (SIDES if i % 2 == 0 else SIDES[::-1])]
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in SIDES}
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for i, side in enumerate(order):
        out = tmp / f"{i}-{side}"
        out.mkdir()
        cmd = [sys.executable, __file__, "--worker", side, "--data", str(data), "--out", str(out),
               "--steps", str(a.steps), "--batch-size", str(a.batch_size),
               "--max-length", str(a.max_length), *(f"--set={kv}" for kv in a.set)]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
        r = json.loads((out / "result.json").read_text())
        results[side].append(r)
        print(f"{side:9s} {r['tokens_per_s']:8.1f} tokens/s  peak RSS {r['peak_rss_mb']:7.0f} MB  "
              f"({r['timed_tokens']} tokens in {r['timed_s']:.1f} s, {r['threads']} threads)",
              flush=True)  # fmt: skip

    def mean(side: str, key: str) -> float:
        return sum(r[key] for r in results[side]) / len(results[side])

    print(f"\nmodel SmolLM2-135M-Instruct, LoRA r=16 all linear, max_length {a.max_length}, "
          f"batch {a.batch_size}, {a.steps} steps x {a.rounds} rounds, threads "
          f"{results['trl'][0]['threads']}")  # fmt: skip
    for peer in ("trl", "trl-tuned"):
        tps = mean("lmforge", "tokens_per_s") / mean(peer, "tokens_per_s")
        rss = mean("lmforge", "peak_rss_mb") / mean(peer, "peak_rss_mb")
        print(f"lmforge / {peer} tokens/s: {tps:.2f}x   peak RSS: {rss:.2f}x")
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
