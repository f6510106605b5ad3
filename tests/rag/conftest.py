"""RAG fixtures: the shipped embedder (loaded once), a small mixed-format corpus, a fake LLM."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder

CATS = """# Cats

Cats are small carnivorous mammals that sleep up to sixteen hours a day.

## Food

Cats eat fish, mice and commercial cat food. Milk upsets the stomach of most adult cats.
"""
DOGS = (
    "<html><body><h1>Dogs</h1><p>Dogs bark to warn their owners.</p>"
    "<h2>Walks</h2><p>Dogs need a walk at least twice every day.</p>"
    "<script>var x = 1;</script></body></html>"
)
PARIS = '{"title": "eiffel", "text": "The Eiffel Tower stands in Paris and is 330 metres tall."}\n'


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "cats.md").write_text(CATS)
    (d / "dogs.html").write_text(DOGS)
    (d / "paris.jsonl").write_text(PARIS)
    (d / "notes.txt").write_text("Parrots can learn to imitate human speech.\n")
    (d / "broken.txt").write_bytes(b"\xff\xfe\x00 not utf8")
    return d


@pytest.fixture
def cfg(tmp_path: Path, corpus: Path) -> RagConfig:
    return RagConfig(docs=[corpus], index=tmp_path / "index", top_k=3, candidates=10)


class FakeGenerator:
    """Returns scripted text (and records prompts), standing in for an LLM in unit tests."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []
        self.tokenizer = None

    def generate(self, prompt: str, max_tokens: int, stream: bool = False) -> str | Iterator[str]:
        self.prompts.append(prompt)
        if stream:
            return iter(self.reply.split(" "))
        return self.reply


@pytest.fixture
def fake_llm():
    return FakeGenerator
