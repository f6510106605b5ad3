"""Options and config loading shared by the `lmforge rag` commands."""

from pathlib import Path
from typing import Any

import typer

CONFIG = typer.Option(None, "--config", "-c", help="YAML mirroring the flags (RagConfig).")
INDEX = typer.Option(None, help="Index directory.")
STORE = typer.Option(None, help="Vector store: local | milvus.")
EMBEDDER = typer.Option(None, help="'default' or a local sentence-transformers directory.")
RUNS = typer.Option(None, help="Runs root (default ./runs).")


def config_of(path: Path | None, **flags: Any):
    """The `RagConfig` from the YAML at `path` (if any) with the flags given over it."""
    from lmforge.config import load_config
    from lmforge.rag.config import RagConfig

    return load_config(RagConfig, path, flags)
