"""Checkpoints that are complete or absent, never half-written, and exact resumption.

transformers writes `checkpoint-N/` file by file (weights, optimizer, scheduler, RNG, trainer
state). A crash in the middle leaves a directory that *looks* like the newest checkpoint. We
commit each one by writing `lmforge-complete.json` atomically as its very last file, and resume
only from committed checkpoints; uncommitted ones are ignored (and removed on resume).
The final model/adapter is written to a temp directory and renamed into place.
"""

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lmforge.files import atomic_write_json

COMMIT = "lmforge-complete.json"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


class AtomicCheckpointMixin:
    """Mix into a transformers/TRL Trainer: every checkpoint ends with a commit marker."""

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        super()._save_checkpoint(model, trial)  # type: ignore[misc]
        if not self.args.should_save:  # type: ignore[attr-defined]
            return
        step = self.state.global_step  # type: ignore[attr-defined]
        ckpt = Path(self.args.output_dir) / f"checkpoint-{step}"  # type: ignore[attr-defined]
        if ckpt.is_dir():
            files = sorted(p.name for p in ckpt.iterdir() if p.name != COMMIT)
            atomic_write_json(ckpt / COMMIT, {"step": step, "files": files})


def committed_checkpoints(root: str | Path) -> list[Path]:
    """Committed checkpoint dirs under `root`, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in root.iterdir()
        if (m := _CKPT.match(p.name)) and (p / COMMIT).is_file()
    ]
    return [p for _, p in sorted(found)]


def latest_checkpoint(root: str | Path, clean: bool = False) -> Path | None:
    """The newest committed checkpoint; with `clean`, delete uncommitted ones (crash debris)."""
    root = Path(root)
    done = committed_checkpoints(root)
    if clean and root.is_dir():
        for p in root.iterdir():
            if _CKPT.match(p.name) and p not in done:
                shutil.rmtree(p, ignore_errors=True)
    return done[-1] if done else None


def checkpoint_step(path: Path) -> int:
    return json.loads((path / COMMIT).read_text(encoding="utf-8"))["step"]


def save_atomically(out: Path, write: Callable[[Path], None]) -> Path:
    """Run `write(tmp_dir)`, then swap the directory into `out` (old one removed after)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    write(tmp)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out
