"""kill -9 during training: the last committed checkpoint survives whole and --resume continues.

SIGKILL cannot be caught, so nothing gets saved on the way out: what survives is what the
checkpoint protocol had already committed. The kill is fixed by construction (at the start of
step 6, after checkpoint-4 was committed), not by timing.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lmforge.config import load_config
from lmforge.runs import start_run
from lmforge.train.checkpoints import COMMIT, latest_checkpoint
from lmforge.train.config import SftConfig
from lmforge.train.sft import train_sft

KILL_AT_STEP = textwrap.dedent(
    """
    import json, os, signal, sys
    from transformers import TrainerCallback
    from lmforge.config import load_config
    from lmforge.runs import start_run
    from lmforge.train.config import SftConfig
    from lmforge.train.sft import train_sft

    class Kill(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if state.global_step + 1 == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)

    cfg = load_config(SftConfig, None, json.loads(sys.argv[1]))
    with start_run("train", cfg) as run:
        train_sft(cfg, run, callbacks=(Kill(),))
    """
)


def test_kill_9_keeps_the_committed_checkpoint_and_resumes(
    tiny_llama_dir: Path, chat_jsonl: Path, tmp_path: Path, isolated_runs: Path, tiny_flags: Any
) -> None:
    def flags(out: Path) -> dict[str, Any]:
        f = tiny_flags(tiny_llama_dir, chat_jsonl, out, max_steps=8, save_steps=4)
        return {k: str(v) if isinstance(v, Path) else v for k, v in f.items()}

    ref_cfg = load_config(SftConfig, None, flags(tmp_path / "ref"))
    with start_run("train", ref_cfg) as run:
        ref = train_sft(ref_cfg, run)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-c", KILL_AT_STEP, json.dumps(flags(tmp_path / "cut")), "6"],
        env=env,
        timeout=600,
    )
    assert r.returncode == -9
    ckpt = latest_checkpoint(tmp_path / "cut" / "checkpoints")
    assert ckpt is not None and ckpt.name == "checkpoint-4" and (ckpt / COMMIT).is_file()
    assert not (tmp_path / "cut" / "final").exists()

    cfg = load_config(SftConfig, None, flags(tmp_path / "cut") | {"resume": True})
    with start_run("train", cfg) as run:
        resumed = train_sft(cfg, run)
    assert resumed["steps"] == ref["steps"] == 8
    assert resumed["final_loss"] == pytest.approx(ref["final_loss"], abs=1e-4)
