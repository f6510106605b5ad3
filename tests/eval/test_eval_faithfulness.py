"""The faithfulness kind: supported claims / claims, unanswered judgements counted, never NaN."""

from lmforge.eval.faithfulness import run_faithfulness
from lmforge.eval.prompts import PromptBuilder
from lmforge.eval.scoring import summarize
from lmforge.eval.taskspec import DataSpec, TaskSpec

CONTEXT = ["Janet's ducks lay 16 eggs per day. She sells the rest for $2 each."]


class ScriptedJudge:
    """Answers yes when the claim's number is in the context; 'hmm' for claims about ducks'
    feathers (never parseable, even after the reminder); remembers how often it was asked."""

    structured = False

    def __init__(self) -> None:
        self.asked = 0

    def generate(self, reqs):
        out = []
        for r in reqs:
            self.asked += 1
            claim = r.prompt.split("Statement: ")[1].split("\n")[0]
            if "feathers" in claim:
                out.append(["hmm"])
            else:
                out.append(["yes" if "16" in claim else "no"])
        return out


def spec() -> TaskSpec:
    return TaskSpec(
        name="t",
        kind="faithfulness",
        data=DataSpec(path="unused.jsonl"),
        prediction_field="answer",
        verifier="judge",
    )


def test_judge_faithfulness_counts_unjudged_claims_and_stays_in_range():
    items = [
        {
            "id": "a",
            "contexts": CONTEXT,
            "answer": "Ducks lay 16 eggs [1]. They lay 20 eggs [1].",
            "labels": [1, 0],
        },
        {"id": "b", "contexts": CONTEXT, "answer": "Ducks have green feathers [1].", "labels": [0]},
        {"id": "c", "contexts": CONTEXT, "answer": "Ok.", "labels": []},
    ]
    judge = ScriptedJudge()
    s = spec()
    out, agg = run_faithfulness(s, items, judge, PromptBuilder(s, items))
    scores = [r["scores"] for r in out]
    assert [x["faithfulness"] for x in scores] == [0.5, 0.0, 1.0]
    assert [x["unjudged"] for x in scores] == [0, 1, 0]
    assert [x["label_agreement"] for x in scores] == [1.0, 1.0, 0.0]
    assert out[1]["verdicts"][0]["status"] == "unparseable"
    assert judge.asked == 2 + 3  # the unparseable claim: first ask and two retries
    summary = summarize(out, agg, n_boot=50)
    assert summary["unjudged"]["value"] == 1.0 and summary["claims"]["value"] == 3.0
    assert 0.0 <= summary["faithfulness"]["value"] <= 1.0
    again, _ = run_faithfulness(s, items, ScriptedJudge(), PromptBuilder(s, items))
    assert again == out  # deterministic
