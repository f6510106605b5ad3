"""`ask` on the real default model, through the engine and through transformers."""

import pytest

from lmforge.rag.answer import NOT_IN_DOCS, Answer
from lmforge.rag.factory import make_pipeline
from lmforge.rag.generate import EngineGenerator, TransformersGenerator
from lmforge.rag.index import build_index

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", [EngineGenerator, TransformersGenerator])
def test_default_model_answers_from_the_documents(cfg, embedder, default_model_dir, backend):
    build_index(cfg, embedder)
    cfg.max_new_tokens = 24
    pipeline = make_pipeline(cfg, embedder, backend(str(default_model_dir)))
    *pieces, answer = list(pipeline.stream("How tall is the Eiffel Tower?"))
    assert isinstance(answer, Answer) and answer.grounded
    assert "330" in "".join(pieces) and "Eiffel" in answer.hits[0].chunk.text
    assert all(1 <= n <= len(answer.hits) for n in answer.citations)
    assert pipeline.ask("Who won the 1930 football world cup?").text == NOT_IN_DOCS
