"""The pipeline file: stages in order, each naming its kind, its config and its inputs.

    name: gsm8k-lora
    stages:
      - name: curate
        uses: data
        config_file: examples/data/pipeline.yaml
      - name: sft
        uses: train.sft
        config: {epochs: 1}
        inputs: {dataset: curate.train}      # <earlier stage>.<output name>, or a path

A stage's `config` is its stage's own config model (the same keys as its YAML and CLI flags),
layered over `config_file` when both are given.
"""

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from lmforge.config import StageConfig


class StageSpec(StageConfig):
    """One step of a pipeline."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="Unique within the pipeline.")
    uses: str = Field(description="Stage kind, e.g. data, train.sft, rag.index, eval.")
    config: dict[str, Any] = Field(default_factory=dict, description="The stage's own config.")
    config_file: Path | None = Field(
        None,
        description="YAML of the stage config (relative paths resolve against the pipeline file).",
    )
    inputs: dict[str, str] = Field(
        default_factory=dict, description="Input name -> '<stage>.<output>' or a path."
    )


class PipelineConfig(StageConfig):
    """`lmforge run pipeline.yaml`."""

    name: str = "pipeline"
    stages: list[StageSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_names_and_order(self) -> "PipelineConfig":
        names = [s.name for s in self.stages]
        for i, st in enumerate(self.stages):
            if st.name in names[:i]:
                raise ValueError(f"stage name {st.name!r} is used twice")
            for key, ref in st.inputs.items():
                producer = ref.split(".", 1)[0]
                if producer in names and producer not in names[:i]:
                    raise ValueError(
                        f"stage {st.name!r} input {key!r} refers to {producer!r}, which does not "
                        "run before it; reorder the stages"
                    )
        return self
