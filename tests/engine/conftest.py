"""Engine fixtures: small engines over the tiny models, shared per session where read-only."""

from pathlib import Path

import pytest
from engine_helpers import make_engine

from lmforge.engine import LLMEngine


@pytest.fixture(scope="session")
def tiny_llama_engine(tiny_llama_dir: Path) -> LLMEngine:
    return make_engine(tiny_llama_dir)


@pytest.fixture(scope="session")
def tiny_qwen2_engine(tiny_qwen2_dir: Path) -> LLMEngine:
    return make_engine(tiny_qwen2_dir)
