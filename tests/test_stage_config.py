from pathlib import Path

import pytest
from pydantic import Field

from lmforge.config import (
    ExistingFile,
    QuickstartConfig,
    StageConfig,
    dump_config,
    load_config,
)
from lmforge.errors import ConfigError


class Optim(StageConfig):
    lr: float = 1e-4
    warmup_steps: int = 0


class Recipe(StageConfig):
    model: str = "default"
    steps: int = Field(10, ge=1)
    optim: Optim = Optim()
    data: ExistingFile | None = None


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


def test_defaults_then_yaml_then_flags(tmp_path):
    p = write(tmp_path, "steps: 5\noptim:\n  lr: 0.01\n")
    cfg = load_config(Recipe, p, {"steps": 7, "model": None, "optim.warmup_steps": 3})
    assert cfg.steps == 7  # flag beats YAML
    assert cfg.model == "default"  # None flag leaves the YAML/default value
    assert cfg.optim.lr == 0.01 and cfg.optim.warmup_steps == 3
    assert load_config(Recipe).steps == 10


def test_unknown_key_names_file_key_and_allowed(tmp_path):
    p = write(tmp_path, "stepz: 5\n")
    with pytest.raises(ConfigError) as e:
        load_config(Recipe, p)
    msg = str(e.value)
    assert str(p) in msg and "unknown key 'stepz'" in msg and "allowed: model, steps" in msg
    assert "\n" not in msg


def test_unknown_nested_key_lists_nested_fields(tmp_path):
    p = write(tmp_path, "optim:\n  lrr: 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'optim.lrr' \(allowed: lr, warmup_steps\)"):
        load_config(Recipe, p)


def test_wrong_type_names_key_and_expected_type(tmp_path):
    p = write(tmp_path, "optim:\n  warmup_steps: many\n")
    with pytest.raises(ConfigError) as e:
        load_config(Recipe, p)
    assert "key 'optim.warmup_steps': expected int, got 'many'" in str(e.value)


def test_constraint_violation_is_reported(tmp_path):
    with pytest.raises(
        ConfigError, match=r"key 'steps': expected int, got 0 .*greater than or equal to 1"
    ):
        load_config(Recipe, write(tmp_path, "steps: 0\n"))


def test_flag_errors_say_flags(tmp_path):
    with pytest.raises(ConfigError, match=r"^flags: key 'steps'"):
        load_config(Recipe, None, {"steps": "x"})


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: config file not found"):
        load_config(Recipe, tmp_path / "nope.yaml")


def test_missing_referenced_file(tmp_path):
    p = write(tmp_path, f"data: {tmp_path / 'missing.jsonl'}\n")
    with pytest.raises(ConfigError, match=r"key 'data'.*file not found: .*missing.jsonl"):
        load_config(Recipe, p)


def test_invalid_yaml_reports_line(tmp_path):
    p = write(tmp_path, "steps: 5\noptim: [1, 2\n")
    with pytest.raises(ConfigError, match=r"cfg.yaml:\d+:\d+: invalid YAML"):
        load_config(Recipe, p)


def test_top_level_must_be_mapping(tmp_path):
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(Recipe, write(tmp_path, "- a\n- b\n"))


def test_empty_file_gives_defaults(tmp_path):
    assert load_config(Recipe, write(tmp_path, "")).steps == 10


def test_dump_roundtrip(tmp_path):
    cfg = load_config(QuickstartConfig, None, {"max_new_tokens": 12})
    data = dump_config(cfg)
    assert data["max_new_tokens"] == 12
    assert QuickstartConfig.model_validate(data) == cfg
