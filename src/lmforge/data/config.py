"""`lmforge data run` config: input, steps, output, split, executor. YAML mirrors it 1:1.

Steps are a list of `{type: <name>, ...params}`; each params model mirrors its step's
constructor, so the defaults documented here are the ones that run.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from lmforge.config import StageConfig


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NormalizeStep(_Step):
    type: Literal["normalize"]
    fix_encoding: bool = True
    nfc: bool = True
    control_chars: bool = True
    whitespace: bool = True
    min_chars: int = 1


class LangIDStep(_Step):
    type: Literal["langid"]
    keep: list[str] | None = Field(["en"], description="ISO codes to keep; null keeps all.")
    min_score: float = Field(0.65, ge=0, le=1)
    max_chars: int = 2000


class GopherStep(_Step):
    type: Literal["gopher"]
    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines: float = 0.9
    max_ellipsis_lines: float = 0.3
    min_alpha_words: float = 0.8
    min_stop_words: int = 2
    max_dup_lines: float = 0.3
    max_dup_paragraphs: float = 0.3
    max_dup_line_chars: float = 0.2
    max_dup_paragraph_chars: float = 0.2
    top_ngram_max: dict[int, float] | None = None
    dup_ngram_max: dict[int, float] | None = None


class C4Step(_Step):
    type: Literal["c4"]
    filter_no_terminal_punct: bool = True
    min_words_per_line: int = 3
    filter_javascript: bool = True
    filter_lorem_ipsum: bool = True
    filter_curly_bracket: bool = True
    min_num_sentences: int = 5


class FineWebStep(_Step):
    type: Literal["fineweb"]
    min_line_punct: float = 0.12
    short_line_chars: int = 30
    max_short_lines: float = 0.67
    max_dup_line_chars: float = 0.01
    max_newline_word_ratio: float = 0.3


class ToxicityStep(_Step):
    type: Literal["toxicity"]
    threshold: float = Field(0.5, ge=0, le=1)
    classifier: str | None = Field(None, description="module:function scoring text in [0, 1].")


class PIIStep(_Step):
    type: Literal["pii"]
    kinds: list[Literal["email", "phone", "ip", "credit_card"]] | None = None
    mode: Literal["redact", "drop"] = "redact"
    placeholder: str = "[{kind}]"


class ExactDedupStep(_Step):
    type: Literal["exact_dedup"]


class NearDedupStep(_Step):
    type: Literal["near_dedup"]
    shingle_size: int = Field(5, ge=1)
    num_perm: int = Field(112, ge=1)
    bands: int = Field(14, ge=1)
    rows: int = Field(8, ge=1)
    threshold: float = Field(0.75, ge=0, le=1)
    seed: int = 1


class ChatStep(_Step):
    type: Literal["chat"]
    messages_field: str = "messages"
    instruction_field: str = "instruction"
    input_field: str | None = "input"
    response_field: str = "response"
    system_field: str | None = "system"
    template: str = Field("chatml", description="'chatml' or a model ('default', HF dir).")


class DPOStep(_Step):
    type: Literal["dpo"]
    prompt_field: str = "prompt"
    chosen_field: str = "chosen"
    rejected_field: str = "rejected"


StepConfig = Annotated[
    NormalizeStep
    | LangIDStep
    | GopherStep
    | C4Step
    | FineWebStep
    | ToxicityStep
    | PIIStep
    | ExactDedupStep
    | NearDedupStep
    | ChatStep
    | DPOStep,
    Field(discriminator="type"),
]


class InputConfig(StageConfig):
    paths: list[str] = Field(..., description="Files, globs or folders (.txt/.md inside).")
    text_field: str = "text"
    id_field: str = "id"
    on_bad_record: Literal["reject", "fail"] = "reject"


class OutputConfig(StageConfig):
    dir: str = Field(..., description="Output folder: data/ (or train/ val/), rejected/.")
    format: Literal["jsonl", "jsonl.gz", "jsonl.zst", "parquet"] = "jsonl"


class SplitConfig(StageConfig):
    val_fraction: float = Field(0.0, ge=0, lt=1, description="0 = no split (data/ only).")
    seed: int = 0


class ExecutorConfig(StageConfig):
    kind: Literal["local", "ray"] = "local"
    workers: int | None = Field(None, ge=1, description="Processes (default: all cores).")
    ray_address: str | None = Field(None, description="Ray cluster; default starts a local one.")


class DataConfig(StageConfig):
    """`lmforge data run`: read, clean, filter, deduplicate, format and split a corpus."""

    input: InputConfig
    output: OutputConfig
    steps: list[StepConfig] = Field(default_factory=list)
    split: SplitConfig = SplitConfig()
    executor: ExecutorConfig = ExecutorConfig()
    files_per_shard: int = Field(256, ge=1, description="For folders of .txt/.md files.")
