"""The generator as self-check judge: JSON-schema-constrained verdicts (engine) vs free text."""

from pathlib import Path

import pytest

from lmforge.rag.claims import split_claims
from lmforge.rag.generate import EngineGenerator
from lmforge.rag.verify import VERDICT_SCHEMA, GeneratorVerifier, parse_verdict, verify

CHUNKS = ["Janet's ducks lay 16 eggs per day. She sells the rest for $2 each."]


class Replies:
    """A generator that replies from a script, in order, recording what it was asked."""

    tokenizer = None

    def __init__(self, replies: list[str], structured: bool) -> None:
        self.replies, self.asked = list(replies), []
        if structured:
            self.generate_json = self._json

    def generate(self, prompt: str, max_tokens: int, stream: bool = False) -> str:
        self.asked.append(("text", prompt))
        return self.replies.pop(0)

    def _json(self, prompts: list[str], schema: dict, max_tokens: int) -> list[str]:
        assert schema == VERDICT_SCHEMA
        self.asked += [("json", p) for p in prompts]
        return [self.replies.pop(0) for _ in prompts]


def test_parse_verdict_accepts_only_the_schema() -> None:
    assert parse_verdict('{"supported": true}') == 1.0
    assert parse_verdict('{"supported":false}') == 0.0
    assert parse_verdict('{"supported": "yes"}') is None
    assert parse_verdict('{"supported": tr') is None  # cut off
    assert parse_verdict("yes") is None


def test_constrained_judge_asks_in_json_and_retries_once_then_counts() -> None:
    gen = Replies(['{"supported": true}', '{"supp', "", '{"supported": false}', ""], True)
    judge = GeneratorVerifier(gen)
    assert judge.constrained
    claims = ["Ducks lay 16 eggs.", "She sells them.", "She buys 3 cows."]
    # replies 2 and 3 do not parse: both re-asked once; the third still fails -> None (counted)
    assert judge.scores(claims, CHUNKS * 3) == [1.0, 0.0, None]
    assert [k for k, _ in gen.asked] == ["json"] * 5
    assert all('"supported"' in p for _, p in gen.asked)


def test_without_generate_json_the_judge_is_free_text() -> None:
    gen = Replies(["Yes.", "Hmm", "no"], False)
    judge = GeneratorVerifier(gen)
    assert not judge.constrained
    assert judge.scores(["a b.", "c d."], CHUNKS * 2) == [1.0, 0.0]
    assert [k for k, _ in gen.asked] == ["text"] * 3


@pytest.mark.integration
def test_engine_verdicts_always_parse(default_model_dir: Path) -> None:
    """On the engine every verdict is schema-valid JSON: none unparseable, even when the model
    would ramble in free text."""
    gen = EngineGenerator(str(default_model_dir))
    claims = split_claims("Ducks lay 16 eggs [1]. She sells the rest for $9 [1]. Cows fly [1].")
    replies = gen.generate_json(["Is the sky green?", "Say hi."], VERDICT_SCHEMA, 12)
    assert all(parse_verdict(r) is not None for r in replies), replies
    verdicts = verify(GeneratorVerifier(gen), claims, CHUNKS)
    assert [v.status for v in verdicts] == ["ok"] * 3
