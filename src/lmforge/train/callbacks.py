"""Trainer callbacks: per-step metrics into the run, Ctrl-C -> checkpoint, rich progress bar.

Metrics per logged step: loss, learning rate, grad norm, tokens/s (non-padding tokens seen by
this process since the last log, over wall time) and peak memory (process RSS high-water mark;
CUDA peak allocated on GPU). They go to `metrics.jsonl` in the run directory as they happen
(one line per log, append-only, so a crash keeps the history) and to the manifest at the end.
"""

import json
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


def peak_memory_mb() -> float:
    """Peak memory of this process: CUDA allocated if on GPU, else RSS high-water mark."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (2**20 if sys.platform == "darwin" else 2**10), 1)


class MetricsCallback(TrainerCallback):
    """Append each log (plus tokens/s and peak memory) to metrics.jsonl; keep them for the run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.history: list[dict[str, Any]] = []
        self._t = time.perf_counter()
        self._tokens = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._t = time.perf_counter()
        self._tokens = state.num_input_tokens_seen

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        now = time.perf_counter()
        entry: dict[str, Any] = {"step": state.global_step, "epoch": state.epoch}
        entry |= {k: v for k, v in logs.items() if isinstance(v, int | float)}
        if "loss" in logs:
            seen = state.num_input_tokens_seen
            dt = max(now - self._t, 1e-9)
            entry["tokens_per_s"] = round((seen - self._tokens) / dt, 1)
            self._t, self._tokens = now, seen
        entry["peak_memory_mb"] = peak_memory_mb()
        self.history.append(entry)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


class InterruptCallback(TrainerCallback):
    """First Ctrl-C: finish the current step, save a checkpoint, stop. Second: abort at once."""

    def __init__(self) -> None:
        self.interrupted = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        print(
            "\ninterrupt: saving a checkpoint after this step (Ctrl-C again to abort)",
            file=sys.stderr,
        )

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._previous = signal.signal(signal.SIGINT, self._handler)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.interrupted:
            control.should_save = True
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class ProgressCallback(TrainerCallback):
    """A rich progress bar over optimizer steps with the latest loss (main process only)."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("train"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[loss]}"),
            TimeRemainingColumn(),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "train", total=state.max_steps, completed=state.global_step, loss=""
        )

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if self._progress is not None and logs and "loss" in logs:
            self._progress.update(self._task, loss=f"loss {logs['loss']:.4f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
