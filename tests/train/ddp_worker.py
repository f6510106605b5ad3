"""One rank of the 2-process DDP check (launched by test_ddp.py through torchrun, gloo on CPU).

Trains LoRA SFT on the tiny model, then saves this rank's trainable weights so the test can
check that both ranks ended with identical parameters.
"""

import os
import sys
from pathlib import Path

import torch

from lmforge.config import load_config
from lmforge.runs import start_run
from lmforge.train.config import SftConfig
from lmforge.train.model import load_for_training
from lmforge.train.sft import train_sft


def main(model: str, data: str, out: str) -> None:
    rank = int(os.environ["RANK"])
    flags = {
        "model": model,
        "data.path": data,
        "data.max_length": 64,
        "output_dir": out,
        "batch_size": 2,
        "max_steps": 3,
        "save_steps": 3,
        "threads": 1,
        "lora.r": 4,
        "learning_rate": 1e-2,
    }
    cfg = load_config(SftConfig, None, flags)
    tm = load_for_training(cfg.model, cfg.method, cfg.lora)
    with start_run("train", cfg, Path(out) / f"runs-{rank}") as run:
        train_sft(cfg, run, tm=tm)
    trained = {k: v.detach().clone() for k, v in tm.model.named_parameters() if v.requires_grad}
    world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    torch.save({"world": world, "weights": trained}, Path(out) / f"weights-rank{rank}.pt")


if __name__ == "__main__":
    main(*sys.argv[1:4])
