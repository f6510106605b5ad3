"""Example YAMLs load into their configs; the `lmforge bench` group."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.config import load_config
from lmforge.engine.config import EngineConfig
from lmforge.errors import ConfigError

EXAMPLES = Path(__file__).parents[2] / "examples" / "engine"


def test_example_yamls_mirror_the_configs() -> None:
    cfg = load_config(EngineConfig, EXAMPLES / "engine.yaml")
    assert set(cfg.model_fields_set) == set(EngineConfig.model_fields)  # every key present
    over = load_config(EngineConfig, EXAMPLES / "engine.yaml", {"block_size": 32})
    assert over.block_size == 32  # a CLI-style override wins over the file


def test_bad_keys_and_values_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "e.yaml"
    bad.write_text("block_size: 0\n")
    with pytest.raises(ConfigError, match=r"e.yaml: key 'block_size'"):
        load_config(EngineConfig, bad)
    with pytest.raises(ConfigError, match="int4_group_size must be 32, 64, 128 or 256"):
        load_config(EngineConfig, None, {"int4_group_size": 48})


def test_bench_group_has_serve_and_no_engine() -> None:
    """The engine bench moved to `bench/engine.py` (its peers are bench-only dependencies)."""
    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0 and "serve" in result.output
    assert CliRunner().invoke(app, ["bench", "engine", "--help"]).exit_code != 0
