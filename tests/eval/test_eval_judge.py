"""LLM-as-judge and RAG metrics against an in-test OpenAI-compatible judge server."""

import math
import re

from lmforge.eval.backends import make_backend
from lmforge.eval.judge import Judge, mean_ok, parse_choice, parse_rating, win_rate
from lmforge.eval.rag_metrics import RagSample, rag_scores


def test_parsers_accept_common_formats_and_reject_the_rest():
    assert parse_rating("Good answer. Rating: [[8]]") == 8
    assert parse_rating("rating: 7") == 7
    assert parse_rating("I give it 6/10") == 6
    assert parse_rating("9") == 9
    assert parse_rating("Rating: [[42]]") is None  # out of range is not a rating
    assert parse_rating("it is fine") is None
    assert parse_choice("so [[B]]", ("A", "B", "C")) == "B"
    assert parse_choice("  a. ", ("A", "B", "C")) == "A"
    assert parse_choice("both are fine", ("A", "B", "C")) is None


def judge_for(url: str, retries: int = 2) -> Judge:
    return Judge(make_backend("openai", "judge", base_url=url, batch_size=4), retries=retries)


def test_single_grading_retries_then_records_unparseable_never_nan(scripted_server):
    url, set_reply = scripted_server
    seen: dict[str, int] = {}

    def reply(prompt: str) -> str:
        key = prompt.split("[Response]")[1].split("\n")[1]
        seen[key] = seen.get(key, 0) + 1
        if key == "good":
            return "Solid. Rating: [[9]]"
        if key == "late":  # parses only on the retry that carries the reminder
            return "Rating: [[4]]" if "could not be parsed" in prompt else "hmm, hard to say"
        return "I refuse to rate this."

    set_reply(reply)
    verdicts = judge_for(url).grade(["q"] * 3, ["good", "late", "never"])
    assert [v.value for v in verdicts] == [9, 4, None]
    assert [v.status for v in verdicts] == ["ok", "ok", "unparseable"]
    assert [v.attempts for v in verdicts] == [1, 2, 3]
    summary = mean_ok([v.value for v in verdicts])
    assert summary == {"mean": 6.5, "n": 2, "unparseable": 1}
    assert not math.isnan(summary["mean"])
    assert mean_ok([None, None])["mean"] is None


def test_pairwise_runs_both_orders_and_cancels_position_bias(scripted_server):
    url, set_reply = scripted_server

    def reply(prompt: str) -> str:
        a = re.search(r"\[Response A\]\n(.*)\n", prompt).group(1)
        if "biased" in prompt:
            return "[[A]]"  # always prefers whatever is shown first
        return "[[A]]" if a == "strong" else "[[B]]"

    set_reply(reply)
    out = judge_for(url).pairwise(["q", "q biased"], ["strong", "x"], ["weak", "y"])
    assert out[0]["winner"] == "first"  # survives the swap
    assert out[1]["winner"] == "tie"  # position bias alone: a tie, not a win
    assert out[0]["order_1"]["value"] == "A" and out[0]["order_2"]["value"] == "B"
    assert win_rate(out) == {"mean": 0.75, "n": 2, "unparseable": 0}


def test_rag_metrics_follow_their_definitions(scripted_server):
    url, set_reply = scripted_server
    contexts = ["Paris is the capital of France.", "Bananas are yellow."]

    def reply(prompt: str) -> str:
        if prompt.startswith("Break the answer"):
            return "- Paris is the capital of France.\n- Paris has 90 million people."
        if prompt.startswith("Context:"):
            statement = prompt.split("Statement: ")[1].split("\n")[0]
            return "[[YES]]" if "capital" in statement else "[[NO]]"
        if "Retrieved context" in prompt:
            return "[[YES]]" if "Paris" in prompt.split("Retrieved context: ")[1] else "[[NO]]"
        return "Rating: [[5]]"

    set_reply(reply)
    sample = RagSample(
        "What is the capital of France?",
        contexts,
        "Paris is the capital of France, with 90 million people.",
        "The capital of France is Paris. It lies on the Seine.",
    )
    out = rag_scores(judge_for(url), [sample])
    item = out["items"][0]
    assert item["faithfulness"] == 0.5  # one of two claims supported
    assert item["answer_relevance"] == 1.0
    assert item["context_precision"] == 1.0  # the useful context is ranked first
    assert item["context_recall"] == 0.5  # "It lies on the Seine" is not in the contexts
    reordered = RagSample(sample.question, contexts[::-1], sample.answer, sample.reference)
    assert rag_scores(judge_for(url), [reordered])["items"][0]["context_precision"] == 0.5
