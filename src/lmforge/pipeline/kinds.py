"""What a stage kind is, and the contract each one keeps (a leaf: it imports no kind).

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
