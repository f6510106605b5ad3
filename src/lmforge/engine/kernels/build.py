"""Compile the kernels once per source/compiler into ~/.cache/lmforge/kernels and load them.

decode.cpp (the fused batch-1 decode step) includes qgemm.cpp (the int8/int4 GEMMs), which
includes qrow.cpp (their batch-1 row kernels), so the library is one translation unit: one
compiler call, and the step inlines the GEMM drivers.

Plain C ABI through ctypes, not a torch extension: `g++ -O3 -fopenmp -shared` of one file takes
seconds where a `torch.utils.cpp_extension` build (torch headers, pybind11) takes a minute or
more on a 2-core CI box, and nothing in the kernel needs ATen. The library is ISA-neutral (each
kernel carries its own `target` attribute and `lmf_isa` picks at run time), so the cache key is
the source's hash and the compiler's version only. OpenMP resolves to the libgomp torch has
already loaded (same soname), so both share one thread pool. Any failure (no compiler, compile
error) is returned as a one-line reason and the caller keeps torch's kernels.
"""

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE / "decode.cpp"
# what the cache key hashes (decode.cpp includes the others)
NAMES = ("qgemm.cpp", "qrow.cpp", "qbatch.cpp", "attention.cpp", "lora.cpp", "batch_attention.cpp")
SOURCES = (SOURCE, *(HERE / f for f in NAMES))
FLAGS = ["-O3", "-std=c++17", "-fPIC", "-shared", "-fopenmp"]
FLAGS += ["-Wno-maybe-uninitialized", "-Wno-psabi"]


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "lmforge" / "kernels"


def _compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


@cache
def load() -> tuple[ctypes.CDLL | None, str]:
    """(library, "") or (None, why not): built at first use, reused from the cache after."""
    cxx = _compiler()
    if cxx is None:
        return None, "no C++ compiler (g++) on PATH"
    try:
        version = subprocess.run(
            [cxx, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.split("\n")[0]
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{cxx} --version failed: {e}"
    text = b"".join(p.read_bytes() for p in SOURCES)
    key = hashlib.sha256(text + version.encode() + " ".join(FLAGS).encode())
    lib = cache_dir() / f"qgemm-{key.hexdigest()[:16]}.so"
    if not lib.exists():
        lib.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib.parent)
        os.close(fd)
        r = subprocess.run(
            [cxx, *FLAGS, "-o", tmp, str(SOURCE)], capture_output=True, text=True, timeout=600
        )
        if r.returncode != 0:
            os.unlink(tmp)
            first = next((ln for ln in r.stderr.splitlines() if "error" in ln), r.stderr[:200])
            return None, f"compiling {SOURCE.name} failed: {first.strip()}"
        os.replace(tmp, lib)  # atomic: a concurrent build never sees half a file
        for old in lib.parent.glob("qgemm-*.so"):  # builds of older sources
            if old != lib:
                old.unlink(missing_ok=True)
    try:
        dll = ctypes.CDLL(str(lib))
    except OSError as e:
        return None, f"loading {lib} failed: {e}"
    vp, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    dll.lmf_isa.restype = i32
    dll.lmf_int8_gemm.argtypes = [i32, vp, i64, i64, vp, vp, vp, vp, i64, i32]
    dll.lmf_int4_gemm.argtypes = [i32, vp, i64, i64, vp, vp, vp, i64, vp, vp, i64, i32]
    dll.lmf_i4_batch_rows.argtypes = [i64]
    dll.lmf_i4_batch_rows.restype = i64
    dll.lmf_dequant.argtypes = [vp, vp, vp, vp, i64, i64, i64, vp, i32, i32]
    dll.lmf_decode.argtypes = [i32, vp, vp, vp, vp, vp, vp, vp, i64, vp, vp, i32]
    dll.lmf_batch_attention.argtypes = [i32, vp, vp, i64, i64, vp, vp, vp, vp, vp, i64, vp, vp, i32]
    dll.lmf_lora.argtypes = [i32, vp, i64, vp, i64, vp, vp, vp, i64, i32]
    fns = (dll.lmf_int8_gemm, dll.lmf_int4_gemm, dll.lmf_dequant, dll.lmf_decode)
    for fn in (*fns, dll.lmf_batch_attention, dll.lmf_lora):
        fn.restype = None
    return dll, ""
