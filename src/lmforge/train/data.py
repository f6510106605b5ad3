"""Load training examples from local files and check them before a single step is spent.

Sources: a JSONL/JSON/Parquet file, a directory of such files, or a `datasets.save_to_disk`
directory. Forms: chat (`messages`), prompt/completion, plain `text`, and preference
(`prompt`/`chosen`/`rejected`). The checks catch what silently ruins a run: wrong columns, empty
turns, turns out of order, and examples longer than max_length (counted, then truncated or
dropped as configured), and they report a token-length histogram so the choice of max_length
is visible in the run manifest.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lmforge.errors import LMForgeError
from lmforge.train.config import DataSection

Form = Literal["chat", "prompt_completion", "text", "preference", "prompt_only"]
FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}
HIST_EDGES = (64, 128, 256, 512, 1024, 2048, 4096)


@dataclass(slots=True)
class DataReport:
    """What the checks found; recorded in the run manifest."""

    source: str
    form: str
    rows_in: int = 0
    rows_out: int = 0
    bad: dict[str, int] = field(default_factory=dict)
    overlong: int = 0
    overlong_dropped: int = 0
    length_hist: dict[str, int] = field(default_factory=dict)
    length_p50: int = 0
    length_p95: int = 0
    length_max: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def load_rows(path: str, split: str = "train") -> Any:
    """A `datasets.Dataset` from a local file or directory (never from a hub)."""
    import datasets

    p = Path(path).expanduser()
    if not p.exists():
        raise LMForgeError(f"data file not found: {path} (give a .jsonl/.json/.parquet or a dir)")
    try:
        if p.is_dir() and any((p / f).exists() for f in ("dataset_info.json", "state.json")):
            ds = datasets.load_from_disk(str(p))
        elif p.is_dir():
            ds = datasets.load_dataset(str(p), split=None)
        elif p.suffix.lower() in FILE_BUILDERS:
            ds = datasets.load_dataset(FILE_BUILDERS[p.suffix.lower()], data_files=str(p))
        else:
            raise LMForgeError(
                f"{path}: unsupported data file type {p.suffix!r}; use .jsonl/.parquet"
            )
    except LMForgeError:
        raise
    except Exception as e:  # datasets raises many types for unreadable files
        raise LMForgeError(f"{path}: cannot read as a dataset ({type(e).__name__}: {e})") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise LMForgeError(f"{path}: no split {split!r} (has: {', '.join(ds)}); set data.split")
        ds = ds[split]
    if len(ds) == 0:
        raise LMForgeError(f"{path}: the dataset is empty")
    return ds


def detect_form(columns: list[str], source: str) -> Form:
    cols = set(columns)
    if {"prompt", "chosen", "rejected"} <= cols:
        return "preference"
    if "messages" in cols:
        return "chat"
    if {"prompt", "completion"} <= cols:
        return "prompt_completion"
    if "text" in cols:
        return "text"
    if "prompt" in cols:
        return "prompt_only"
    raise LMForgeError(
        f"{source}: columns {sorted(cols)} match no known form; need 'messages', "
        "'prompt'+'completion', 'text', or 'prompt'+'chosen'+'rejected'"
    )


def check_conversation(messages: Any, need_assistant_last: bool, first: str = "user") -> str | None:
    """Why a conversation is malformed, or None. Order: [system], then `first` and the other role
    alternating (a preference answer starts with the assistant, a prompt with the user)."""
    if not isinstance(messages, list) or not messages:
        return "messages is not a non-empty list"
    expect = first
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            return f"message {i} lacks string 'content'"
        role = m.get("role")
        if not m["content"].strip():
            return f"message {i} ({role}) is empty"
        if role == "system" and i == 0:
            continue
        if role != expect:
            return f"message {i} has role {role!r}, expected {expect!r}"
        expect = "assistant" if role == "user" else "user"
    if need_assistant_last and messages[-1].get("role") != "assistant":
        return "last message is not from the assistant (nothing to learn)"
    return None


def _text_ok(value: Any, first: str) -> bool:
    if isinstance(value, list):
        return check_conversation(value, need_assistant_last=False, first=first) is None
    return isinstance(value, str) and bool(value.strip())


def check_row(row: dict[str, Any], form: Form) -> str | None:
    """Why one row is malformed for its form, or None."""
    if form == "chat":
        return check_conversation(row["messages"], need_assistant_last=True)
    cols = {
        "prompt_completion": ("prompt", "completion"),
        "text": ("text",),
        "preference": ("prompt", "chosen", "rejected"),
        "prompt_only": ("prompt",),
    }[form]
    for c in cols:
        if not _text_ok(row[c], "user" if c in ("prompt", "text") else "assistant"):
            return f"'{c}' is empty or malformed"
    if form == "preference" and row["chosen"] == row["rejected"]:
        return "'chosen' equals 'rejected'"
    return None


def _as_messages(value: Any, role: str) -> list[dict[str, str]]:
    return value if isinstance(value, list) else [{"role": role, "content": value}]


def token_length(row: dict[str, Any], form: Form, tokenizer: Any) -> int:
    """Tokens the longest sequence built from this row will take (chat template applied)."""
    if form == "text":
        return len(tokenizer(row["text"])["input_ids"])
    if form == "chat":
        convs = [row["messages"]]
    elif form == "prompt_only":
        convs = [_as_messages(row["prompt"], "user")]
    else:
        prompt = _as_messages(row["prompt"], "user")
        answers = ("completion",) if form == "prompt_completion" else ("chosen", "rejected")
        convs = [prompt + _as_messages(row[a], "assistant") for a in answers]
    gen = form == "prompt_only"
    return max(
        len(
            tokenizer.apply_chat_template(
                c, tokenize=True, add_generation_prompt=gen, return_dict=False
            )
        )
        for c in convs
    )


def _histogram(lengths: list[int]) -> dict[str, int]:
    hist: dict[str, int] = {}
    lo = 0
    for hi in (*HIST_EDGES, None):
        label = f"{lo}-{hi - 1}" if hi else f">={lo}"
        hist[label] = sum(1 for n in lengths if n >= lo and (hi is None or n < hi))
        lo = hi or lo
    return {k: v for k, v in hist.items() if v}


def prepare(
    section: DataSection, path: str, tokenizer: Any, allowed: tuple[Form, ...]
) -> tuple[Any, DataReport]:
    """Load `path`, check every row, apply the overlong policy; return dataset + report."""
    ds = load_rows(path, section.split)
    if section.limit is not None:
        ds = ds.select(range(min(section.limit, len(ds))))
    form = detect_form(ds.column_names, path)
    if form not in allowed:
        raise LMForgeError(
            f"{path}: this command needs {' or '.join(allowed)} data, got {form} "
            f"(columns: {', '.join(ds.column_names)})"
        )
    report = DataReport(source=path, form=form, rows_in=len(ds))
    keep: list[int] = []
    lengths: list[int] = []
    for i, row in enumerate(ds):
        problem = check_row(row, form)
        if problem is not None:
            if section.on_bad == "error":
                raise LMForgeError(
                    f"{path}: row {i}: {problem}; fix the row or set data.on_bad: drop"
                )
            key = problem.split(" (")[0]
            report.bad[key] = report.bad.get(key, 0) + 1
            continue
        n = token_length(row, form, tokenizer)
        lengths.append(n)
        if n > section.max_length:
            report.overlong += 1
            if section.overlong == "drop":
                report.overlong_dropped += 1
                continue
        keep.append(i)
    if not keep:
        raise LMForgeError(f"{path}: no usable rows left after checks ({report.bad or 'overlong'})")
    ordered = sorted(lengths)
    report.length_hist = _histogram(lengths)
    report.length_p50 = ordered[len(ordered) // 2]
    report.length_p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    report.length_max = ordered[-1]
    report.rows_out = len(keep)
    return (ds.select(keep) if len(keep) < len(ds) else ds), report
