from pathlib import Path

import pytest

from lmforge.models.tiny import make_tiny_gguf


@pytest.fixture(scope="session")
def tiny_gguf(tiny_llama_dir, tmp_path_factory) -> Path:
    """The tiny Llama written as an F32 GGUF file, as llama.cpp lays it out."""
    return make_tiny_gguf(tiny_llama_dir, tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty lmforge cache for this test."""
    root = tmp_path / "cache"
    monkeypatch.setenv("LMFORGE_CACHE", str(root))
    return root
