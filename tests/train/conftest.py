"""Train-stage fixtures: small chat, preference and GSM8K-style prompt files, and a helper that
builds a config for the tiny Llama with settings fast enough for a 2-core CI box."""

import json
import random
from pathlib import Path
from typing import Any

import pytest


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _sums(n: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    return [(rng.randint(1, 50), rng.randint(1, 50)) for _ in range(n)]


@pytest.fixture(scope="session")
def chat_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"What is {a} plus {b}?"},
                {"role": "assistant", "content": f"{a} plus {b} is {a + b}."},
            ]
        }
        for a, b in _sums(48, 0)
    ]
    return write_jsonl(tmp_path_factory.mktemp("data") / "chat.jsonl", rows)


@pytest.fixture(scope="session")
def pref_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        {
            "prompt": [{"role": "user", "content": f"What is {a} plus {b}?"}],
            "chosen": [{"role": "assistant", "content": f"#### {a + b}"}],
            "rejected": [{"role": "assistant", "content": f"#### {a + b + 1}"}],
        }
        for a, b in _sums(16, 1)
    ]
    return write_jsonl(tmp_path_factory.mktemp("data") / "pref.jsonl", rows)


@pytest.fixture(scope="session")
def prompt_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        {
            "prompt": [{"role": "user", "content": f"What is {a} plus {b}?"}],
            "answer": f"{a} + {b} = {a + b}\n#### {a + b}",
        }
        for a, b in _sums(8, 2)
    ]
    return write_jsonl(tmp_path_factory.mktemp("data") / "prompts.jsonl", rows)


@pytest.fixture(scope="session")
def tiny_flags() -> Any:
    """Flags for a few-second run on the tiny model, one thread (the box is shared)."""
    return _tiny_flags


def _tiny_flags(model: Path, data: Path, out: Path, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": str(model),
        "data.path": str(data),
        "data.max_length": 64,
        "output_dir": str(out),
        "batch_size": 4,
        "max_steps": 4,
        "save_steps": 2,
        "threads": 1,
        "lora.r": 4,
        "lora.alpha": 8,
    }
    return base | extra
