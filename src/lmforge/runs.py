"""Run directories and their manifests.

Every stage command runs inside `start_run`, which creates `runs/<stage>-<UTC time>-<id>/` and
keeps `manifest.json` there: the command, resolved config, inputs with content hashes (and the
run that produced each, when known: lineage), outputs, package versions, git commit, status,
metrics and timings. The manifest is rewritten atomically at every change, so a reader never
sees half a file; a process killed outright leaves status "running" with its pid, which
`load_manifest` reports as failed once that pid is gone.
"""

import contextlib
import importlib.metadata
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lmforge.config import dump_config
from lmforge.errors import LMForgeError
from lmforge.files import atomic_write_json, sha256_path

MANIFEST = "manifest.json"
VERSIONED_PACKAGES = (
    "lmforge",
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "peft",
    "trl",
    "accelerate",
    "datasets",
    "sentence-transformers",
    "faiss-cpu",
    "bm25s",
    "fastapi",
    "ray",
)


def runs_root(runs_dir: str | Path | None = None) -> Path:
    """Where runs live: the argument, else $LMFORGE_RUNS_DIR, else ./runs."""
    return Path(runs_dir or os.environ.get("LMFORGE_RUNS_DIR") or "runs")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that decide a run's results."""
    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


def git_state(cwd: Path | None = None) -> dict[str, Any] | None:
    """Commit and dirtiness of the git checkout around `cwd`, or None outside one."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Run:
    """A live run: mutate through its methods, each of which persists the manifest."""

    dir: Path
    manifest: dict[str, Any]
    _t0: float = field(default_factory=time.perf_counter)

    @property
    def id(self) -> str:
        return self.manifest["id"]

    def save(self) -> None:
        atomic_write_json(self.dir / MANIFEST, self.manifest)

    def add_input(self, path: str | Path, role: str = "input") -> None:
        """Record an input with its content hash and, if another run made it, that run's id."""
        p = Path(path)
        entry: dict[str, Any] = {"role": role, "path": str(p.resolve())}
        if p.exists():
            entry["sha256"] = sha256_path(p)
            entry["produced_by"] = find_producer(entry["sha256"], self.dir.parent)
        self.manifest["inputs"].append(entry)
        self.save()

    def add_output(self, path: str | Path, role: str = "output") -> None:
        """Record an artifact this run wrote (hashed, so later runs can trace lineage to it)."""
        p = Path(path)
        entry: dict[str, Any] = {"role": role, "path": str(p.resolve())}
        if p.exists():
            entry["sha256"] = sha256_path(p)
        outputs = self.manifest["outputs"]
        outputs[:] = [o for o in outputs if (o["role"], o["path"]) != (role, entry["path"])]
        outputs.append(entry)  # recording the same artifact again refreshes its hash
        self.save()

    def log_metrics(self, **metrics: Any) -> None:
        self.manifest["metrics"].update(metrics)
        self.save()

    def time(self, name: str, seconds: float) -> None:
        self.manifest["timings"][name] = round(seconds, 4)
        self.save()


def find_producer(sha256: str, root: Path) -> str | None:
    """Id of the newest run under `root` that recorded an output with this hash."""
    for data in reversed(list_runs(root)):
        if any(o.get("sha256") == sha256 for o in data.get("outputs", [])):
            return data["id"]
    return None


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so the manifest records the failure before exiting."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def start_run(
    stage: str,
    config: BaseModel | dict[str, Any] | None = None,
    runs_dir: str | Path | None = None,
    command: list[str] | None = None,
) -> Iterator[Run]:
    """Create a run directory and manifest; mark it succeeded or failed when the block ends."""
    root = runs_root(runs_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{stage}-{stamp}-{secrets.token_hex(3)}"
    run_dir = root / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    cfg = dump_config(config) if isinstance(config, BaseModel) else dict(config or {})
    manifest: dict[str, Any] = {
        "id": run_id,
        "stage": stage,
        "status": "running",
        "command": command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]],
        "config": cfg,
        "inputs": [],
        "outputs": [],
        "metrics": {},
        "timings": {},
        "versions": package_versions(),
        "git": git_state(),
        "host": {"hostname": socket.gethostname(), "pid": os.getpid(), "cwd": os.getcwd()},
        "started_at": _utcnow(),
        "started_ns": time.time_ns(),  # orders runs started within the same second
        "finished_at": None,
        "error": None,
    }
    run = Run(dir=run_dir, manifest=manifest)
    run.save()
    try:
        with _sigterm_as_exit():
            yield run
    except KeyboardInterrupt:
        _finish(run, "failed", "interrupted by Ctrl-C")
        raise
    except BaseException as e:
        _finish(run, "failed", f"{type(e).__name__}: {e}")
        raise
    else:
        _finish(run, "succeeded", None)


def _finish(run: Run, status: str, error: str | None) -> None:
    run.manifest["status"] = status
    run.manifest["error"] = error
    run.manifest["finished_at"] = _utcnow()
    run.manifest["timings"]["total_s"] = round(time.perf_counter() - run._t0, 4)
    run.save()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_manifest(run_dir: Path) -> dict[str, Any]:
    """Read a manifest; a 'running' run whose process is gone on this host reads as failed."""
    data = _read_json(run_dir / MANIFEST)
    host = data.get("host") or {}
    if (
        data.get("status") == "running"
        and host.get("hostname") == socket.gethostname()
        and not _pid_alive(int(host.get("pid", -1)))
    ):
        data["status"] = "failed"
        data["error"] = data.get("error") or "process exited without finishing (killed or crashed)"
    return data


def list_runs(runs_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """All readable manifests under the runs root, in the order they started."""
    root = runs_root(runs_dir)
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        if (d / MANIFEST).is_file():
            with contextlib.suppress(ValueError, OSError):
                out.append(load_manifest(d))
    return sorted(out, key=lambda m: (m.get("started_ns", 0), m["id"]))


def find_run(run_id: str, runs_dir: str | Path | None = None) -> dict[str, Any]:
    """The run whose id is `run_id` or starts with it; an error if none or several match."""
    runs = list_runs(runs_dir)
    exact = [r for r in runs if r["id"] == run_id]
    matches = exact or [r for r in runs if r["id"].startswith(run_id) or r["id"].endswith(run_id)]
    if not matches:
        raise LMForgeError(
            f"no run {run_id!r} under {runs_root(runs_dir)}; see `lmforge runs list`"
        )
    if len(matches) > 1:
        ids = ", ".join(r["id"] for r in matches[:5])
        raise LMForgeError(f"run id {run_id!r} is ambiguous ({ids}); give more of it")
    return matches[0]
