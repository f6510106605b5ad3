"""Claims, evidence spans, self-check policies, and the labelled grounding set by construction."""

import json
import random
from pathlib import Path

import pytest

from lmforge.rag import grounding_set as gs
from lmforge.rag.claims import Claim, find_evidence, split_claims
from lmforge.rag.selfcheck import SelfCheck
from lmforge.rag.verify import ConsistencyVerifier, OverlapVerifier, parse_yes_no, verify

CHUNKS = [
    "Janet's ducks lay 16 eggs per day. She sells the rest for $2 each.",
    "The train leaves at noon. It travels 80 miles per hour.",
]
SHIPPED = Path(__file__).resolve().parents[2] / "src/lmforge/eval/tasks/data/grounding.jsonl"


class Exact:
    """A verifier that supports a claim only if the premise contains it word for word."""

    threshold = 0.5

    def scores(self, claims, premises):
        return [float(c.rstrip(".") in p) for c, p in zip(claims, premises, strict=True)]


def test_claims_keep_citations_aside_and_split_clauses():
    claims = split_claims("Ducks lay 16 eggs per day [1]. She sells them [1, 2]; trains run [2].")
    assert [c.text for c in claims] == [
        "Ducks lay 16 eggs per day.",
        "She sells them;",
        "trains run.",
    ]
    assert [c.cites for c in claims] == [[1], [1, 2], [2]]
    assert claims[0].source == "Ducks lay 16 eggs per day [1]."


def test_evidence_is_the_best_sentence_of_the_cited_chunk_with_its_span():
    ev = find_evidence(Claim("It travels 80 miles per hour.", [2]), CHUNKS)
    assert ev.chunk == 2 and CHUNKS[1][ev.start : ev.end].strip() == "It travels 80 miles per hour."
    assert ev.overlap == 1.0
    # an invalid citation falls back to every chunk
    assert find_evidence(Claim("Janet's ducks lay 16 eggs per day.", [9]), CHUNKS).chunk == 1
    assert find_evidence(Claim("anything at all", []), []).chunk == 0


def test_verdicts_carry_evidence_and_unparseable_counts_as_unsupported():
    class Silent:
        threshold = 0.5

        def scores(self, claims, premises):
            return [None for _ in claims]

    v = verify(Silent(), split_claims("It travels 80 miles per hour [2]."), CHUNKS)[0]
    assert (v.supported, v.status, v.chunk) == (False, "unparseable", 2)
    assert v.evidence == "It travels 80 miles per hour."
    assert parse_yes_no("Yes, it is.") == 1.0 and parse_yes_no("no") == 0.0
    assert parse_yes_no("maybe") is None


@pytest.mark.parametrize("policy", ["drop", "regenerate", "refuse"])
def test_policies(policy):
    answer = "Janet's ducks lay 16 eggs per day [1]. It travels 90 miles per hour [2]."
    calls = []

    def regenerate(prompt):
        calls.append(prompt)
        return "It travels 80 miles per hour [2]. The moon is cheese [2]."

    out = SelfCheck(Exact(), policy).run(answer, CHUNKS, "PROMPT", regenerate)
    r = out.report
    assert r["rounds"][0]["verdicts"][1]["supported"] is False
    if policy == "drop":
        assert out.text == "Janet's ducks lay 16 eggs per day [1]." and not calls
        assert r["dropped"] == ["It travels 90 miles per hour."]
    elif policy == "regenerate":
        assert len(calls) == 1 and "It travels 90 miles per hour." in calls[0]
        assert out.text == "It travels 80 miles per hour [2]." and r["regenerated"]
        assert len(r["rounds"]) == 2 and r["dropped"] == ["The moon is cheese."]
    else:
        assert out.refused and out.text == "" and not calls


def test_all_supported_is_untouched_and_no_claim_is_kept():
    ok = "It travels 80 miles per hour [2]."
    assert SelfCheck(Exact(), "refuse").run(ok, CHUNKS, "", None).text == ok
    assert SelfCheck(Exact(), "drop").run("Yes.", CHUNKS, "", None).text == "Yes."


def test_planted_claims_differ_from_the_original_in_their_kind():
    rng = random.Random(0)
    s = "Janet sells 9 eggs a day."
    assert gs.wrong_number(s, rng) != s and "Janet sells" in gs.wrong_number(s, rng)
    assert gs.negation(s) == "Janet does not sell 9 eggs a day."
    assert gs.negation("The answer is 18.") == "The answer is not 18."
    swapped = gs.wrong_entity(s, [s], ["Mark", "Janet"], rng)
    assert swapped == "Mark sells 9 eggs a day."
    assert gs.wrong_entity("It costs 5 dollars.", ["x"], [], rng) != "It costs 5 dollars."


def test_train_and_eval_rows_are_disjoint():
    n = 1319
    assert not set(gs.eval_positions(n)) & set(gs.train_positions(n))
    assert len(gs.eval_positions(n)) + len(gs.train_positions(n)) == n


def test_shipped_set_is_labelled_by_construction():
    items = [json.loads(x) for x in SHIPPED.read_text(encoding="utf-8").splitlines()]
    assert len(items) >= 300
    planted = [it for it in items if 0 in it["labels"]]
    assert len(planted) * 2 == len(items) - len(items) % 2
    assert {k for it in items for k in it["kinds"] if k} == set(gs.KINDS)
    for it in items:
        assert len(split_claims(it["answer"])) == len(it["labels"]) == len(it["sentences"])
        own = it["contexts"][0]
        for s, y in zip(it["sentences"], it["labels"], strict=True):
            assert (s in own) == bool(y), (it["id"], s)  # supported == verbatim in its passage
        assert int(it["id"].split("-")[1]) % 4 == 0
    overlap = OverlapVerifier(1.0)
    assert overlap.scores(["a b"], ["a b c"]) == [1.0]


def test_consistency_check_vetoes_absent_numbers_and_names_only():
    class Yes:
        threshold = 0.5

        def scores(self, claims, premises):
            return [0.9 for _ in claims]

    v = ConsistencyVerifier(Yes())
    claims = [
        "She sells 9 eggs.",
        "She sells 9.0 eggs to Mark.",
        "She sells 10 eggs.",
        "She sells eggs to Ann.",
    ]
    premise = "Janet sells 9 eggs to Mark for $2."
    assert v.scores(claims, [premise] * 4) == [0.9, 0.9, 0.0, 0.0]


def test_paraphrase_keeps_numbers_and_names_and_changes_the_surface():
    from lmforge.rag.paraphrase import paraphrase

    assert paraphrase("He bought 3 apples per day.") == "He purchased three apples each day."
    assert (
        paraphrase("So Janet needs to pay $18 daily.")
        == "Hence, Janet must pay 18 dollars each day."
    )
    assert paraphrase("The answer is 42.") == "In the end, the answer comes to 42."
    # arithmetic is left alone; a sentence no rule changes gets a lead-in
    same = "Janet sells 16 - 3 - 4 = 9 duck eggs a day."
    assert paraphrase(same).endswith(same) and paraphrase(same) != same
    assert paraphrase(same) == paraphrase(same)


def test_paraphrased_set_is_labelled_by_construction_and_never_verbatim():
    from lmforge.rag.paraphrase import paraphrase

    path = SHIPPED.with_name("grounding_paraphrased.jsonl")
    items = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert len(items) >= 300 and {k for it in items for k in it["kinds"] if k} == set(gs.KINDS)
    for it in items:
        own = it["contexts"][0]
        assert len(split_claims(it["answer"])) == len(it["labels"])
        for s, src, y in zip(it["sentences"], it["sources"], it["labels"], strict=True):
            assert s not in own, (it["id"], s)  # no answer sentence is a copy of its source
            assert src == "" or src in own
            if y:
                assert s == paraphrase(src)
            else:
                assert s != paraphrase(src)
