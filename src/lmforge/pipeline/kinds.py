"""The stage kinds a pipeline can use, and the contract each one keeps.

A kind takes its validated config, its named input paths and its live `Run`, writes its
artifacts inside `run.dir`, and returns them by name. It never reaches into another stage's
run directory except through the inputs it was given: that is what makes the lineage in the
manifests complete and lets the runner skip a stage whose config and inputs are unchanged.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmforge.config import StageConfig
from lmforge.errors import ConfigError
from lmforge.runs import Run

StageFn = Callable[[StageConfig, dict[str, Path], Run], dict[str, Path]]
FillFn = Callable[[dict[str, Path]], dict[str, Any]]
RUN_DIR = "<run dir>"  # placeholder for paths a kind points into its own, not yet created, run


def no_fill(inputs: dict[str, Path]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class StageKind:
    """A runnable stage: its config model, its entry point, and the inputs it requires."""

    name: str
    config_model: type[StageConfig]
    run: StageFn
    required_inputs: tuple[str, ...] = ()
    description: str = ""
    fill: FillFn = no_fill  # config keys (dotted) the pipeline sets from the inputs


KINDS: dict[str, StageKind] = {}


def register(kind: StageKind) -> StageKind:
    """Add a kind (stage packages and tests call this); re-registering replaces it."""
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> StageKind:
    """The kind called `name`, loading the built-in kinds on first use."""
    from lmforge.pipeline import builtin_kinds  # noqa: F401 - registers on import

    if name not in KINDS:
        raise ConfigError(f"unknown stage kind {name!r}; available: {', '.join(sorted(KINDS))}")
    return KINDS[name]
