"""The `faithfulness` task kind: claims of an answer supported by its contexts / claims.

The answer is the item's `prediction_field` (score given answers, e.g. the shipped labelled set)
or the model's completion of the prompt (score the model as a RAG answerer). It is split into
claims (rag/claims.py: sentences and ';' clauses, citations removed); each claim gets a premise
from the item's contexts and a verdict from:

- `verifier: nli` (default): the in-project cross-encoder (`lmforge rag train-verifier`) with the
  number/name consistency check, as `rag ask --self-check` uses it;
- `verifier: judge`: the evaluated backend asked yes/no (under a JSON Schema enum when it is
  `structured`), through `Judge.ask`: an unparseable reply is re-asked up to `retries` times,
  then counted in `unjudged` and scored as unsupported - never dropped, so the score cannot be
  NaN and stays in [0, 1]. At temperature 0 every step is deterministic.

Per item `faithfulness` = supported / claims (1.0 for an answer with no claim: it asserts
nothing); items with per-sentence `labels` also get `label_agreement` (verdicts equal to labels).
"""

from typing import Any

from lmforge.eval.backends.base import Backend, GenRequest
from lmforge.eval.judge import Judge, json_field
from lmforge.eval.prompts import PromptBuilder
from lmforge.eval.taskspec import TaskSpec

Items = list[dict[str, Any]]


class JudgeScorer:
    """A `rag.verify.Verifier` backed by an eval backend through `Judge` (retries counted)."""

    threshold = 0.5

    def __init__(self, backend: Backend, retries: int = 2) -> None:
        self.judge = Judge(backend, retries=retries, max_new_tokens=8)

    def scores(self, claims: list[str], premises: list[str]) -> list[float | None]:
        from lmforge.rag.verify import VERIFY_PROMPT, parse_yes_no

        prompts = [
            VERIFY_PROMPT.format(premise=p, claim=c) for c, p in zip(claims, premises, strict=True)
        ]
        if self.judge.structured:
            schema = {
                "type": "object",
                "properties": {"supported": {"enum": ["yes", "no"]}},
                "required": ["supported"],
                "additionalProperties": False,
            }
            parse = json_field("supported", parse_yes_no)
            verdicts = self.judge.ask(prompts, lambda t: _yes_no(parse(t)), schema)
        else:
            verdicts = self.judge.ask(prompts, parse_yes_no)
        return [v.value for v in verdicts]


def _yes_no(value: Any) -> float | None:
    return {"yes": 1.0, "no": 0.0}.get(value, value if isinstance(value, float) else None)


def make_verifier(spec: TaskSpec, backend: Backend) -> Any:
    if spec.verifier == "judge":
        return JudgeScorer(backend)
    from lmforge.rag.verifier_train import default_verifier_path
    from lmforge.rag.verify import ConsistencyVerifier, NLIVerifier

    path = spec.verifier_path or default_verifier_path()
    return ConsistencyVerifier(NLIVerifier(path, spec.verifier_threshold))


def run_faithfulness(spec: TaskSpec, items: Items, backend: Backend, pb: PromptBuilder) -> Any:
    from lmforge.rag.claims import split_claims
    from lmforge.rag.verify import verify

    if spec.prediction_field:
        answers = [str(it[spec.prediction_field]) for it in items]
    else:
        reqs = [
            GenRequest(
                pb.context(it),
                prefix=pb.gen_prefix(it),
                chat=spec.chat,
                system=pb.system(it),
                max_new_tokens=spec.max_new_tokens,
                temperature=spec.temperature,
                stop=tuple(spec.stop),
            )
            for it in items
        ]
        answers = [o[0] for o in backend.generate(reqs)]
    verifier = make_verifier(spec, backend)
    out: Items = []
    for it, answer in zip(items, answers, strict=True):
        claims = split_claims(answer)
        verdicts = verify(verifier, claims, list(it[spec.contexts_field]))
        supported = sum(v.supported for v in verdicts)
        scores = {
            "faithfulness": supported / len(verdicts) if verdicts else 1.0,
            "unjudged": sum(v.status != "ok" for v in verdicts),
            "claims": len(verdicts),
        }
        labels = it.get("labels")
        if labels is not None:  # claims not aligned one-to-one with labels count as disagreeing
            pairs = zip(verdicts, labels, strict=True) if len(labels) == len(verdicts) else []
            scores["label_agreement"] = sum(int(v.supported) == int(y) for v, y in pairs) / max(
                1, len(labels)
            )
        assert 0.0 <= scores["faithfulness"] <= 1.0
        out.append(
            {
                "id": it["id"],
                "output": answer,
                "verdicts": [v.to_dict() for v in verdicts],
                "scores": scores,
            }
        )
    aggregations = {"faithfulness": "mean", "unjudged": "sum", "claims": "sum"}
    if all("label_agreement" in r["scores"] for r in out):
        aggregations["label_agreement"] = "mean"
    return out, aggregations
