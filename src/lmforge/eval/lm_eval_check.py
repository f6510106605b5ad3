"""Cross-check: our multiple-choice accuracy against lm-evaluation-harness on the same items.

lm-eval is not a dependency (it pins its own stack); run it in any Python that has it, e.g. a
throwaway venv: `LM_EVAL_PYTHON=/path/to/python`. We write the task's items, already rendered
the way our task renders them, to JSONL plus an lm-eval task YAML with the same template, run
lm-eval's `hf` model on the same weights in that interpreter, and compare per-item acc and
acc_norm. Equality is the claim, so any differing item is reported.
"""

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from lmforge.eval.data import load_items
from lmforge.eval.prompts import PromptBuilder
from lmforge.eval.taskspec import TaskSpec

_RUNNER = textwrap.dedent(
    """
    import json, sys, time
    import torch
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    model_dir, task_dir, out, batch, threads = sys.argv[1:6]
    torch.set_num_threads(int(threads))
    lm = HFLM(pretrained=model_dir, dtype="float32", batch_size=int(batch), device="cpu")
    manager = TaskManager(include_path=task_dir)  # indexes lm-eval's own tasks: not timed
    spent, cpu = [], []
    score = lm.loglikelihood
    def timed(requests, **kw):
        t, c = time.perf_counter(), time.process_time()
        out = score(requests, **kw)
        spent.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        return out
    lm.loglikelihood = timed
    t0 = time.perf_counter()
    res = lm_eval.simple_evaluate(
        model=lm, tasks=["lmforge_mc_check"], task_manager=manager, log_samples=True
    )
    seconds = time.perf_counter() - t0
    samples = res["samples"]["lmforge_mc_check"]
    rows = {
        s["doc"]["id"]: {
            "acc": s["acc"], "acc_norm": s["acc_norm"],
            "loglikelihoods": [float(r[0]) for r in s["filtered_resps"]],
        }
        for s in samples
    }
    json.dump(
        {
            "results": res["results"]["lmforge_mc_check"], "items": rows,
            "seconds": seconds, "loglik_seconds": sum(spent), "loglik_cpu_seconds": sum(cpu),
        },
        open(out, "w"),
    )
    """
)


def export_task(spec: TaskSpec, limit: int | None, out_dir: Path) -> Path:
    """Items with their rendered prompt and choices, and an lm-eval YAML that reads them."""
    assert spec.kind == "multiple_choice", spec.kind
    pool = load_items(spec.data)
    pb = PromptBuilder(spec, pool)
    items = pool[:limit] if limit else pool
    docs = [
        {
            "id": it["id"],
            "text": pb.context(it),
            "options": pb.choices(it),
            "gold": int(pb.gold(it)),
        }
        for it in items
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "docs.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    yaml = {
        "task": "lmforge_mc_check",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(out_dir / "docs.jsonl")}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "{{text}}",
        "doc_to_choice": "{{options}}",
        "doc_to_target": "{{gold}}",
        "target_delimiter": spec.target_delimiter,
        "num_fewshot": 0,
        "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}],
    }
    (out_dir / "lmforge_mc_check.yaml").write_text(json.dumps(yaml, indent=1))
    return out_dir


def run_lm_eval(
    python: str,
    model_dir: Path,
    task_dir: Path,
    batch_size: int = 8,
    timeout_s: int = 3600,
    threads: int = 2,
) -> dict[str, Any]:
    """lm-eval's `hf` model on the exported items. `seconds`: its evaluate call (model loaded
    and task index built beforehand); `loglik_seconds`: the part spent in loglikelihood
    (`loglik_cpu_seconds`: its process CPU time, all threads)."""
    out = task_dir / "lm_eval_out.json"
    cmd = [python, "-c", _RUNNER, str(model_dir), str(task_dir), str(out), str(batch_size)]
    cmd.append(str(threads))
    subprocess.run(
        cmd,
        check=True,
        timeout=timeout_s,
        env={
            "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1",
            "PATH": "/usr/bin:/bin",
            "OMP_NUM_THREADS": str(threads),
        },
    )
    return json.loads(out.read_text())


def compare_items(ours: list[dict[str, Any]], theirs: dict[str, Any]) -> dict[str, Any]:
    """Per-item equality of acc and acc_norm, and both accuracies."""
    diff = [
        it["id"]
        for it in ours
        if any(it["scores"][m] != float(theirs["items"][it["id"]][m]) for m in ("acc", "acc_norm"))
    ]
    n = len(ours)
    return {
        "n": n,
        "ours": {m: sum(it["scores"][m] for it in ours) / n for m in ("acc", "acc_norm")},
        "lm_eval": {m: theirs["results"][f"{m},none"] for m in ("acc", "acc_norm")},
        "differing_items": diff,
    }
