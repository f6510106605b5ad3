"""Data-parallel training: 2 processes on CPU (gloo) through torchrun end with identical weights."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_ranks_hold_identical_weights(
    tiny_llama_dir: Path, chat_jsonl: Path, tmp_path: Path
) -> None:
    worker = Path(__file__).with_name("ddp_worker.py")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={_free_port()}", str(worker),
        str(tiny_llama_dir), str(chat_jsonl), str(tmp_path / "out"),
    ]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(worker.parent)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "out" / "weights-rank0.pt")
    r1 = torch.load(tmp_path / "out" / "weights-rank1.pt")
    assert r0["world"] == r1["world"] == 2
    assert r0["weights"].keys() == r1["weights"].keys() and r0["weights"]
    for k, w in r0["weights"].items():
        assert torch.equal(w, r1["weights"][k]), k
    # the adapter trained (LoRA B starts at zero) and rank 0 alone wrote the final adapter
    assert any(
        k.endswith("lora_B.default.weight") and w.abs().sum() > 0 for k, w in r0["weights"].items()
    )
    assert (tmp_path / "out" / "final" / "adapter_model.safetensors").is_file()
