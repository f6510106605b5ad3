"""lm-eval task YAMLs read with lm-eval's meaning: MMLU's own template renders lm-eval's prompts.

The two YAML files below are written as lm-eval ships them (`mmlu/default/_default_template_yaml`
and a subject file), pointed at local JSONL files the way lm-eval reads local data. The
expected strings follow lm-eval's `fewshot_context`: description (as is, it ends in "\\n\\n"),
then each few-shot example as doc_to_text + target_delimiter + the target choice, joined and
followed by fewshot_delimiter, then doc_to_text of the item; choices are scored as
target_delimiter + choice.
"""

import json
from pathlib import Path

import pytest

from lmforge.errors import LMForgeError
from lmforge.eval.runner import run_task
from lmforge.eval.taskspec import load_task

DEFAULT_TEMPLATE = """\
dataset_path: json
test_split: test
fewshot_split: dev
fewshot_config:
  sampler: first_n
output_type: multiple_choice
doc_to_text: "{{question.strip()}}\\nA. {{choices[0]}}\\nB. {{choices[1]}}\\nC. {{choices[2]}}\\nD. {{choices[3]}}\\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
dataset_kwargs:
  trust_remote_code: true
"""  # noqa: E501

SUBJECT = """\
"dataset_name": "abstract_algebra"
"description": "The following are multiple choice questions (with answers) about abstract\\
  \\ algebra.\\n\\n"
"include": "_default_template_yaml"
"tag": "mmlu_stem_tasks"
"task": "mmlu_abstract_algebra"
"task_alias": "abstract_algebra"
"num_fewshot": 2
"dataset_kwargs":
  "data_files": {"test": "test.jsonl", "dev": "dev.jsonl"}
"""

DEV = [
    {"question": " Find the order of 2 in Z_5. ", "choices": ["1", "2", "4", "5"], "answer": 2},
    {"question": "Is Z a field?", "choices": ["yes", "no", "both", "neither"], "answer": 1},
    {"question": "Unused third example", "choices": ["a", "b", "c", "d"], "answer": 0},
]
TEST = [{"question": "How many elements has S_3?", "choices": ["3", "6", "9", "1"], "answer": 1}]


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def loglikelihood(self, requests):
        from lmforge.eval.backends.base import LoglikResult

        self.requests += requests
        return [LoglikResult(-float(i), False, 1) for i in range(len(requests))]


@pytest.fixture
def mmlu_yaml(tmp_path: Path) -> Path:
    for name, rows in (("dev.jsonl", DEV), ("test.jsonl", TEST)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    (tmp_path / "_default_template_yaml").write_text(DEFAULT_TEMPLATE, "utf-8")
    (tmp_path / "mmlu_abstract_algebra.yaml").write_text(SUBJECT, "utf-8")
    return tmp_path / "mmlu_abstract_algebra.yaml"


def test_lm_eval_mmlu_yaml_renders_lm_eval_prompts(mmlu_yaml: Path) -> None:
    spec = load_task(str(mmlu_yaml))
    assert spec.name == "mmlu_abstract_algebra" and spec.kind == "multiple_choice"
    rec = Recorder()
    out = run_task(spec, rec, n_boot=10)
    expected = (
        "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
        "Find the order of 2 in Z_5.\nA. 1\nB. 2\nC. 4\nD. 5\nAnswer: C"
        "\n\n"
        "Is Z a field?\nA. yes\nB. no\nC. both\nD. neither\nAnswer: B"
        "\n\n"
        "How many elements has S_3?\nA. 3\nB. 6\nC. 9\nD. 1\nAnswer:"
    )
    assert rec.requests == [(expected, f" {c}") for c in "ABCD"]
    assert out["n"] == 1 and out["items"][0]["gold"] == 1


def test_zero_shot_is_description_then_prompt(mmlu_yaml: Path) -> None:
    spec = load_task(str(mmlu_yaml))
    spec.fewshot.k = 0
    rec = Recorder()
    run_task(spec, rec, n_boot=10)
    assert rec.requests[0][0] == (
        "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
        "How many elements has S_3?\nA. 3\nB. 6\nC. 9\nD. 1\nAnswer:"
    )


def test_lmforge_task_description_is_prepended(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    (tmp_path / "t.yaml").write_text(
        'name: t\nkind: generate\ndescription: "Answer about {{question[:1]}}.\\n\\n"\n'
        "data: {path: d.jsonl}\nprompt: 'Q: {{question}}'\nprediction_field: answer\n"
        "metrics: [exact_match]\n"
    )
    out = run_task(load_task(str(tmp_path / "t.yaml")), None, n_boot=10)
    assert out["items"][0]["prompt"] == "Answer about 2.\n\nQ: 2+2?"


@pytest.mark.parametrize(
    ("extra", "msg"),
    [
        ('"process_docs": "x"\n', "lm-eval key 'process_docs' is not supported"),
        ('"dataset_path": "cais/mmlu"\n', "lmforge reads local files"),
        ('"fewshot_config": {"sampler": "first_n", "samples": 3}\n', "fewshot_config"),
    ],
)
def test_unsupported_lm_eval_keys_are_refused(mmlu_yaml: Path, extra: str, msg: str) -> None:
    mmlu_yaml.write_text(mmlu_yaml.read_text() + extra)
    with pytest.raises(LMForgeError, match=msg):
        load_task(str(mmlu_yaml))
