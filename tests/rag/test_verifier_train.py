"""`lmforge rag train-verifier`: the two-stage recipe by default, resumable stages, and the
dev-chosen threshold written with the verifier and read back (config override first)."""

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.errors import LMForgeError
from lmforge.eval.faithfulness import make_verifier as eval_verifier
from lmforge.eval.taskspec import load_task
from lmforge.rag import verifier_train as vt
from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder
from lmforge.rag.factory import make_verifier
from lmforge.rag.verifier_calibrate import load_set, pick_threshold, split_items
from lmforge.rag.verify import NLIVerifier, dev_threshold
from lmforge.serve.config import ServeConfig
from lmforge.serve.rag import rag_config

runner = CliRunner()
CTX = "Janet has 16 ducks. She sells 9 eggs every day. Her friend Tom keeps 3 cows."
PAIRS = [
    ("Janet has 16 ducks.", CTX, 1),
    ("Janet has 12 ducks.", CTX, 0),
    ("She sells 9 eggs every day.", CTX, 1),
    ("Tom keeps 7 cows.", CTX, 0),
] * 4


def fake_verifier(root: Path, manifest: str | dict[str, Any]) -> Path:
    """The shipped MiniLM (a fresh head) as a verifier directory with the given manifest."""
    path = root / "verifier"
    shutil.copytree(Embedder("default").path, path)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (path / vt.MANIFEST).write_text(text)
    return path


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_verifier(
        tmp_path_factory.mktemp("v"), {"threshold": 0.3, "threshold_no_checks": 0.4}
    )


def test_the_default_recipe_is_two_stage_and_flags_run_one_stage(monkeypatch, tmp_path):
    calls: list[tuple[Path, list[vt.Stage]]] = []

    def fake(out, base, stages, batch_size, seed, log):
        calls.append((base, stages))
        return {"pairs": stages[-1].pairs, "train_loss": 0.5, "threshold": 0.3}

    monkeypatch.setattr(vt, "train_verifier", fake)
    runs = ["--runs-dir", str(tmp_path / "runs")]
    for extra in ([], ["--data", "verbatim"], ["--data", "paraphrased", "--pairs", "64"]):
        r = runner.invoke(app, ["rag", "train-verifier", str(tmp_path / "v"), *runs, *extra])
        assert r.exit_code == 0, r.output
    (base, two), (_, one), (_, other) = calls
    assert base == Embedder("default").path  # stage 1 starts from the shipped MiniLM
    assert two == [vt.Stage("verbatim", 2560, 5e-5), vt.Stage("paraphrased", 4800, 1e-4)]
    assert one == [vt.Stage("verbatim", 2560, 5e-5)]
    assert other == [vt.Stage("paraphrased", 64, 1e-4)]
    r = runner.invoke(app, ["rag", "train-verifier", str(tmp_path / "v"), "--data", "nli"])
    assert r.exit_code != 0


def test_an_interrupted_run_resumes_at_the_first_unfinished_stage(monkeypatch, tmp_path):
    trained: list[str] = []
    interrupt = [True]

    def fake_stage(out, base, stage, batch_size, max_length, seed):
        if stage.data == "paraphrased" and interrupt:
            interrupt.pop()
            raise KeyboardInterrupt  # killed during stage 2, the first time
        trained.append(stage.data)
        info = vt.stage_recipe(stage, base, batch_size, max_length, seed) | {"pairs": stage.pairs}
        out.mkdir(parents=True)
        (out / vt.MANIFEST).write_text(json.dumps(info | {"train_loss": 0.4}))
        return info | {"train_loss": 0.4}

    monkeypatch.setattr(vt, "train_stage", fake_stage)
    monkeypatch.setattr(vt, "calibrate", lambda path, dev_limit: {"threshold": 0.3, "dev_f1": 1})
    out, stages = tmp_path / "v", vt.recipe_stages("two-stage")
    with pytest.raises(KeyboardInterrupt):
        vt.train_verifier(out, tmp_path / "base", stages, log=lambda m: None)
    assert not out.exists() and trained == ["verbatim"]
    logged: list[str] = []
    info = vt.train_verifier(out, tmp_path / "base", stages, log=logged.append)
    assert trained == ["verbatim", "paraphrased"]  # stage 1 was not trained again
    assert "already done" in logged[0]
    assert info["threshold"] == 0.3 and len(info["stages"]) == 2
    assert json.loads((out / vt.MANIFEST).read_text())["threshold"] == 0.3
    assert not (tmp_path / ".v.stages").exists()  # published in one rename, parts removed
    # a kept stage trained with another recipe is not reused
    assert vt._kept(out, vt.stage_recipe(stages[1], tmp_path, 16, 160, 2)) is None


@pytest.mark.integration
def test_two_stages_really_train_and_write_the_dev_threshold(monkeypatch, tmp_path):
    monkeypatch.setattr(vt, "training_pairs", lambda seed: PAIRS)
    monkeypatch.setattr(vt, "paraphrased_pairs", lambda seed: PAIRS[::-1])
    out = tmp_path / "v"
    stages = vt.recipe_stages("two-stage", pairs=16)
    info = vt.train_verifier(out, Embedder("default").path, stages, dev_limit=4, log=print)
    written = json.loads((out / vt.MANIFEST).read_text())
    assert written == info
    first, second = written["stages"]
    assert first["data"] == vt.DATA["verbatim"] and second["data"] == vt.DATA["paraphrased"]
    assert second["base"].endswith("1-verbatim")  # stage 2 starts from stage 1's weights
    assert 0 <= written["threshold"] <= 1 and 0 <= written["threshold_no_checks"] <= 1
    assert written["dev_items"] == 4 and written["dev_sentences"] == 12
    assert NLIVerifier(out).threshold == written["threshold"]
    assert NLIVerifier(out, checks=False).threshold == written["threshold_no_checks"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]


def test_rag_ask_the_server_and_eval_read_the_shipped_threshold(shipped, tmp_path):
    assert make_verifier(RagConfig(verifier_path=shipped), None).threshold == 0.3
    plain = make_verifier(RagConfig(verifier_path=shipped, verifier_checks=False), None)
    assert plain.threshold == 0.4  # the dev choice made without the consistency check
    yaml = tmp_path / "rag.yaml"
    yaml.write_text(f"verifier_path: {shipped}\n")
    route = rag_config(ServeConfig(rag_config=yaml, self_check="drop"))
    assert make_verifier(route, None).threshold == 0.3  # what the server's RAG route builds
    spec = load_task("grounding").model_copy(update={"verifier_path": str(shipped)})
    assert eval_verifier(spec, None).threshold == 0.3  # type: ignore[arg-type]


def test_a_configured_threshold_overrides_the_shipped_one(shipped, tmp_path):
    cfg = RagConfig(verifier_path=shipped, verifier_threshold=0.8)
    assert make_verifier(cfg, None).threshold == 0.8
    yaml = tmp_path / "rag.yaml"
    yaml.write_text(f"verifier_path: {shipped}\nverifier_threshold: 0.6\n")
    assert make_verifier(rag_config(ServeConfig(rag_config=yaml)), None).threshold == 0.6
    update = {"verifier_path": str(shipped), "verifier_threshold": 0.7}
    spec = load_task("grounding").model_copy(update=update)
    assert eval_verifier(spec, None).threshold == 0.7  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        ("{not json", "corrupt verifier manifest"),
        ("[0.3]", "corrupt verifier manifest"),
        ({"base": "x"}, "no dev-chosen 'threshold'"),
        ({"threshold": 3}, "no dev-chosen 'threshold'"),
    ],
)
def test_a_corrupt_or_old_manifest_is_a_one_line_error_naming_the_file(tmp_path, manifest, says):
    path = tmp_path / "v"
    path.mkdir()
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (path / vt.MANIFEST).write_text(text)
    with pytest.raises(LMForgeError) as e:
        make_verifier(RagConfig(verifier_path=path), None)
    msg = str(e.value)
    assert says in msg and str(path / vt.MANIFEST) in msg and "\n" not in msg
    with pytest.raises(LMForgeError):
        dev_threshold(path)


def test_a_missing_manifest_is_an_error_even_with_a_threshold_given(tmp_path):
    with pytest.raises(LMForgeError, match="not a trained claim verifier"):
        make_verifier(RagConfig(verifier_path=tmp_path, verifier_threshold=0.5), None)


def test_the_threshold_is_chosen_on_the_dev_half_only():
    items = load_set("paraphrased")
    dev, test = split_items(items)
    assert not set(dev) & set(test) and len(dev) + len(test) == len(items) == 330
    scores, y = np.array([0.1, 0.2, 0.25, 0.6, 0.9]), np.array([0, 0, 0, 1, 1])
    t = pick_threshold(scores, y)
    assert 0.25 < t <= 0.6  # every unsupported sentence flagged, no supported one
