"""`lmforge train ...` end to end through the CLI: YAML + flag overrides, errors, exit codes."""

from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.runs import list_runs

runner = CliRunner()


def test_sft_from_yaml_with_flag_override_then_merge(
    tiny_llama_dir: Path, chat_jsonl: Path, tmp_path: Path, isolated_runs: Path
) -> None:
    cfg = {
        "model": str(tiny_llama_dir),
        "data": {"path": str(chat_jsonl), "max_length": 64},
        "output_dir": str(tmp_path / "out"),
        "max_steps": 50,
        "batch_size": 4,
        "threads": 1,
        "lora": {"r": 4, "alpha": 8},
    }
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = runner.invoke(app, ["train", "sft", "-c", str(path), "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    runs = list_runs(isolated_runs)
    assert runs[-1]["config"]["max_steps"] == 2 and runs[-1]["metrics"]["steps"] == 2
    merged = tmp_path / "merged"
    args = ["train", "merge", "--adapter", str(tmp_path / "out" / "final"), "--output", str(merged)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (merged / "model.safetensors").is_file()


def test_bad_config_is_one_line_error(tmp_path: Path, chat_jsonl: Path) -> None:
    from lmforge.errors import ConfigError

    path = tmp_path / "bad.yaml"
    bad: dict[str, Any] = {"data": {"path": str(chat_jsonl)}, "output_dir": "x", "lr": 1}
    path.write_text(yaml.safe_dump(bad))
    result = runner.invoke(app, ["train", "sft", "-c", str(path)])
    assert isinstance(result.exception, ConfigError)
    assert "unknown key 'lr'" in str(result.exception)
    result = runner.invoke(app, ["train", "dpo", "--output-dir", "x"])
    assert isinstance(result.exception, ConfigError)
    assert "missing required key 'data'" in str(result.exception)
