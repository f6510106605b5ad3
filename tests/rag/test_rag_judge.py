"""The generator as self-check judge: JSON-schema-constrained verdicts (engine) vs free text,
and the cheap in-answer judge (one-token choice after the answer's own, cached conversation)."""

from pathlib import Path

import pytest

from lmforge.rag.claims import split_claims
from lmforge.rag.generate import EngineGenerator
from lmforge.rag.selfcheck import SelfCheck
from lmforge.rag.verify import (
    VERDICT_CHOICES,
    VERDICT_SCHEMA,
    ConsistencyVerifier,
    GeneratorVerifier,
    parse_verdict,
    verify,
)

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


class Choices(Replies):
    """A scripted generator that also picks among choices, recording the chats."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies, True)
        self.chats: list[list[dict]] = []

    def generate_choice(self, chats: list[list[dict]], choices: list[str]) -> list[str]:
        assert choices == VERDICT_CHOICES
        self.chats += chats
        return [self.replies.pop(0) for _ in chats]


def test_in_answer_judge_extends_the_answer_conversation_with_one_choice_per_claim() -> None:
    gen = Choices(["yes", "no", ""])
    judge = GeneratorVerifier(gen)
    claims = ["Ducks lay 16 eggs.", "She sells them.", "She buys 3 cows."]
    got = judge.scores_in_answer(claims, CHUNKS * 3, "PROMPT", "ANSWER")
    assert got == [1.0, 0.0, None]  # an empty pick is counted, never guessed
    assert len(gen.chats) == 3 and gen.asked == []  # one batch, no JSON or free-text asks
    for chat, claim in zip(gen.chats, claims, strict=True):
        assert chat[:2] == [
            {"role": "user", "content": "PROMPT"},
            {"role": "assistant", "content": "ANSWER"},
        ]  # the shared prefix: the answer's own prompt and reply
        assert chat[2]["role"] == "user" and claim in chat[2]["content"]


def test_in_answer_judge_falls_back_to_premises_without_generate_choice() -> None:
    gen = Replies(['{"supported": true}'], True)
    assert GeneratorVerifier(gen).scores_in_answer(["a b."], CHUNKS, "P", "A") == [1.0]
    assert [k for k, _ in gen.asked] == ["json"]


def test_self_check_judges_in_the_answer_and_the_consistency_veto_still_applies() -> None:
    gen = Choices(["yes", "yes"])
    check = SelfCheck(ConsistencyVerifier(GeneratorVerifier(gen)), "drop")
    answer = "Ducks lay 16 eggs per day [1]. She sells them for $7 each [1]."
    res = check.run(answer, CHUNKS, "THE PROMPT", lambda p: "")
    verdicts = res.report["rounds"][0]["verdicts"]
    assert [v["supported"] for v in verdicts] == [True, False]  # $7 is not in the context
    assert all(c[0]["content"] == "THE PROMPT" and c[1]["content"] == answer for c in gen.chats)


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


@pytest.mark.integration
def test_engine_in_answer_verdicts_are_one_choice_and_reuse_the_answers_cache(
    default_model_dir: Path,
) -> None:
    """After the engine answers a prompt, the in-answer judge's chats start with that prompt:
    their prefill is served from the prefix cache, and each verdict is "yes" or "no"."""
    gen = EngineGenerator(str(default_model_dir))
    prompt = "Context: " + CHUNKS[0] * 8 + "\n\nHow many eggs do the ducks lay per day?"
    answer = gen.generate(prompt, 16)
    before = gen.llm.engine.stats().prefix_cache_hits
    got = GeneratorVerifier(gen).scores_in_answer(
        ["Ducks lay 16 eggs.", "Cows fly."], CHUNKS * 2, prompt, str(answer)
    )
    assert all(x in (0.0, 1.0) for x in got), got
    assert gen.llm.engine.stats().prefix_cache_hits > before
