"""`lmforge eval` configs: YAML files mirror these 1:1 and CLI flags of the same names override."""

from typing import Literal

from pydantic import Field

from lmforge.config import StageConfig


class EvalConfig(StageConfig):
    """`lmforge eval run`: evaluate one model on tasks, write results.json + report.html."""

    model: str = Field(
        "default", description="Model: 'default', an HF dir, a .gguf, or a served name."
    )
    backend: Literal["hf", "openai", "engine"] = Field("hf", description="How the model is run.")
    base_url: str | None = Field(None, description="openai backend: server URL (…/v1).")
    api_key: str | None = Field(None, description="openai backend: bearer token, if any.")
    tasks: list[str] = Field(default_factory=lambda: ["gsm8k"], description="Task names or YAMLs.")
    limit: int | None = Field(None, ge=1, description="First N items of each task (smoke runs).")
    limit_per_subject: int | None = Field(
        None, ge=1, description="First N items of each subject of each task (stratified)."
    )
    subject_field: str = Field("subject", description="Item field --limit-per-subject groups by.")
    sample: int | None = Field(None, ge=1, description="N items per task, a seeded random sample.")
    sample_seed: int = Field(0, description="Seed of --sample.")
    num_fewshot: int | None = Field(None, ge=0, description="Override every task's few-shot k.")
    n_samples: int | None = Field(None, ge=1, description="Override code tasks' samples/problem.")
    batch_size: int = Field(8, ge=1, description="Sequences per forward pass / parallel requests.")
    device: str = Field("cpu", description="hf backend: torch device.")
    n_bootstrap: int = Field(1000, ge=10, description="Bootstrap resamples per reported score.")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence of the intervals.")
    seed: int = Field(0, description="Seed of the bootstrap.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all cores).")


class CompareConfig(StageConfig):
    """`lmforge eval compare RUN_A RUN_B`: paired differences B - A on the items both scored."""

    run_a: str
    run_b: str
    threshold: float = Field(
        0.0, ge=0.0, description="A drop larger than this (in the metric's units) can fail."
    )
    n_bootstrap: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0
    higher_is_better: dict[str, bool] = Field(
        default_factory=lambda: {"perplexity": False, "bits_per_byte": False},
        description="Metrics where lower is better (everything else: higher).",
    )


ReportFormat = Literal["json", "html"]
