"""Shared fixtures: tiny random models with a locally trained tokenizer, the default model,
and an isolated runs root so tests never write into the working tree."""

import os
from pathlib import Path

import pytest

from lmforge.models.tiny import make_tiny_model, train_tokenizer


@pytest.fixture(autouse=True)
def isolated_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes runs under its own temp dir."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("LMFORGE_RUNS_DIR", str(runs))
    return runs


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """A byte-level BPE tokenizer (512 tokens, ChatML specials) trained in this session."""
    return train_tokenizer()


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer) -> Path:
    """A 2-layer random Llama (GQA 4/2 heads, tied embeddings) saved as an HF directory."""
    return make_tiny_model("llama", tmp_path_factory.mktemp("tiny-llama"), tiny_tokenizer, seed=0)


@pytest.fixture(scope="session")
def tiny_qwen2_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer) -> Path:
    """A 2-layer random Qwen2 (q/k/v bias, untied embeddings) saved as an HF directory."""
    return make_tiny_model("qwen2", tmp_path_factory.mktemp("tiny-qwen2"), tiny_tokenizer, seed=1)


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The default SmolLM2 model converted to safetensors (converted once, then cached)."""
    from lmforge.models.default import prepare_default

    return prepare_default()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `slow` tests (full real-data runs, tens of minutes) unless LMFORGE_SLOW=1."""
    if os.environ.get("LMFORGE_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="full real-data run; set LMFORGE_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
