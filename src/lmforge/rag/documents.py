"""Load documents into sections that remember their heading path.

A chunk is only citable if we can say where it came from, so every loader keeps the source path
and splits text into `Section`s under the headings that contain them (Markdown `#`, HTML `<hN>`,
PDF pages, JSONL lines). A file that cannot be read is reported with its reason and skipped: one
bad PDF must not stop a thousand good files from being indexed.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lmforge.errors import LMForgeError
from lmforge.extras import require

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(slots=True)
class Section:
    """Contiguous text under one heading path (outermost heading first)."""

    headings: tuple[str, ...]
    text: str


@dataclass(slots=True)
class Document:
    path: str
    sections: list[Section] = field(default_factory=list)


@dataclass(slots=True)
class LoadResult:
    documents: list[Document]
    failures: list[tuple[str, str]]  # (path, reason)


def _nested(stack: list[tuple[int, str]], level: int, title: str) -> list[tuple[int, str]]:
    """The heading stack after meeting a heading of `level`: deeper or equal ones are closed."""
    return [*(h for h in stack if h[0] < level), (level, title)]


def load_markdown(text: str) -> list[Section]:
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_code = False

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            sections.append(Section(tuple(t for _, t in stack), body))
        lines.clear()

    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        m = None if in_code else _MD_HEADING.match(line)
        if m:
            flush()
            stack = _nested(stack, len(m.group(1)), m.group(2))
        else:
            lines.append(line)
    flush()
    return sections


def load_html(text: str) -> list[Section]:
    """Text of block elements, grouped under the h1..h6 headings that precede them."""
    bs4 = require("rag", "bs4")
    soup = bs4.BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "footer"]):
        tag.decompose()
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    blocks: list[str] = []
    root = soup.body or soup
    names = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td", "blockquote", "dd"]
    for el in root.find_all(names):
        if el.find_parent(names[6:]) is not None:
            continue  # nested block: its text is already in the outer block
        txt = el.get_text(" ", strip=True)
        if not txt:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            if blocks:
                sections.append(Section(tuple(t for _, t in stack), "\n\n".join(blocks)))
                blocks = []
            stack = _nested(stack, int(el.name[1]), txt)
        else:
            blocks.append(txt)
    if blocks:
        sections.append(Section(tuple(t for _, t in stack), "\n\n".join(blocks)))
    if not sections and (plain := root.get_text(" ", strip=True)):
        sections.append(Section((), plain))
    return sections


def load_pdf(path: Path) -> list[Section]:
    pypdf = require("rag", "pypdf")
    reader = pypdf.PdfReader(str(path))
    sections = []
    for i, page in enumerate(reader.pages, 1):
        text = (page.extract_text() or "").strip()
        if text:
            sections.append(Section((f"page {i}",), text))
    return sections


def load_jsonl(path: Path, text_field: str) -> list[Section]:
    sections = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise ValueError(f"line {i}: invalid JSON ({e})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get(text_field), str):
                raise ValueError(f"line {i}: no string field {text_field!r}")
            title = str(rec.get("title") or rec.get("id") or f"line {i}")
            sections.append(Section((title,), rec[text_field]))
    return sections


def load_file(path: Path, jsonl_field: str = "text") -> Document:
    """One file as a Document; raises (any exception) if it cannot be read."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        sections = load_pdf(path)
    elif suffix == ".jsonl":
        sections = load_jsonl(path, jsonl_field)
    else:
        text = path.read_text(encoding="utf-8")
        if suffix in (".html", ".htm"):
            sections = load_html(text)
        elif suffix in (".md", ".markdown"):
            sections = load_markdown(text)
        else:
            sections = [Section((), text.strip())] if text.strip() else []
    return Document(str(path), sections)


def discover(paths: Iterable[Path]) -> list[Path]:
    """Supported files under the given files/folders, sorted; a missing path is an error."""
    found: set[Path] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found.update(
                q.resolve() for q in p.rglob("*") if q.is_file() and q.suffix.lower() in SUFFIXES
            )
        elif p.is_file():
            found.add(p.resolve())
        else:
            raise LMForgeError(f"docs: {p} does not exist; give existing files or folders")
    return sorted(found)


def load_documents(files: Iterable[Path], jsonl_field: str = "text") -> LoadResult:
    """Load every file; unreadable ones go to `failures` with the reason instead of raising."""
    docs, failures = [], []
    for path in files:
        if path.suffix.lower() not in SUFFIXES:
            failures.append((str(path), f"unsupported type {path.suffix!r} (use {SUFFIXES})"))
            continue
        try:
            doc = load_file(path, jsonl_field)
        except UnicodeDecodeError as e:
            failures.append((str(path), f"not UTF-8 text ({e.reason})"))
            continue
        except Exception as e:  # any parser error means "skip this file and say why"
            failures.append((str(path), f"{type(e).__name__}: {e}"))
            continue
        if not doc.sections:
            failures.append((str(path), "no extractable text"))
            continue
        docs.append(doc)
    return LoadResult(docs, failures)
