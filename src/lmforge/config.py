"""Config models and their loading from YAML.

Each stage has one pydantic model; its YAML file mirrors it 1:1 and its CLI flags are the same
names. Precedence: model defaults < YAML file < CLI flags. Every problem (missing file, YAML
syntax, unknown key, wrong type) is a `ConfigError` naming the file, the key path and the
expected type, because a config that silently ignores a typo trains the wrong model.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from lmforge.errors import ConfigError

T = TypeVar("T", bound="StageConfig")


class StageConfig(BaseModel):
    """Base of every stage config: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def _existing_file(p: Path) -> Path:
    if not p.is_file():
        raise ValueError(f"file not found: {p}")
    return p


ExistingFile = Annotated[Path, AfterValidator(_existing_file)]


class QuickstartConfig(StageConfig):
    """`lmforge quickstart`: run the lifecycle pipeline, then put one question to the result."""

    pipeline: Path | None = Field(
        None, description="Pipeline YAML (default: the embedded pipeline/quickstart.yaml)."
    )
    from_stage: str | None = Field(None, description="Re-run from this stage even if unchanged.")
    prompt: str = Field(
        "What kind of text is this: math, news, review or science? Answer with one word.\n\n"
        "Text: Firefighters battled the blaze overnight as winds pushed it towards the town.",
        description="The user turn the tuned model answers at the end.",
    )
    system: str | None = Field(None, description="Optional system message.")
    max_new_tokens: int = Field(128, ge=1, le=4096, description="Tokens to generate at most.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all cores).")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with one-line errors for a missing file, bad syntax or a non-mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; check the path or create it")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML ({problem})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason}); save it as UTF-8") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: top level must be a mapping of keys to values, got {type(data).__name__}"
        )
    return data


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `a.b.c` in nested dicts, creating levels as needed."""
    *parents, leaf = key.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key!r}: {p!r} is not a mapping")
    node[leaf] = value


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (`Sub`, `Sub | None`, `list[Sub]`), if any."""
    for a in (annotation, *get_args(annotation)):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _field_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> FieldInfo | None:
    """The field that `loc` (pydantic's error location) points at, walking nested models."""
    model: type[BaseModel] | None = cls
    field: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            continue  # list index: stay on the list's item model
        if model is None or (field := model.model_fields.get(part)) is None:
            return None
        model = _nested_model(field.annotation)
    return field


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("pathlib.", "")


def format_validation_error(err: ValidationError, cls: type[BaseModel], source: str) -> str:
    """One line per problem: `source: key 'a.b': expected T, got V (pydantic's message)`."""
    parts = []
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc) or "<root>"
        if e["type"] == "extra_forbidden":
            owner = _field_at(cls, loc[:-1])
            parent = cls if len(loc) == 1 else _nested_model(owner.annotation) if owner else None
            allowed = ", ".join(parent.model_fields) if parent else "see the docs"
            parts.append(f"{source}: unknown key '{key}' (allowed: {allowed})")
            continue
        field = _field_at(cls, loc)
        exp = f"expected {_type_name(field.annotation)}, " if field else ""
        if e["type"] == "missing":
            parts.append(f"{source}: missing required key '{key}' ({exp.rstrip(', ')})")
            continue
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{source}: key '{key}': {exp}got {e.get('input')!r} ({msg})")
    return "; ".join(parts)


def load_config(
    cls: type[T],
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build `cls` from defaults, then the YAML file at `path`, then non-None `overrides`.

    Override keys may be dotted (`optim.lr`) to reach nested sections.
    """
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, key, value)
    source = str(path) if path is not None else "flags"
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, cls, source)) from None


def dump_config(cfg: BaseModel) -> dict[str, Any]:
    """The resolved config as JSON-ready data (for manifests and `--print-config`)."""
    return cfg.model_dump(mode="json")
