from lmforge.rag.benchmarks import docstring_pairs, gsm8k, humaneval, strip_signature

PROMPT = 'from typing import List\n\n\ndef add(a: int,\n        b: int) -> int:\n    """Add."""\n'


def test_strip_signature_keeps_the_docstring_only():
    assert strip_signature(PROMPT, "add") == 'from typing import List\n\n\n    """Add."""'


def test_humaneval_pairs_each_prompt_with_its_solution_among_distractors():
    b = humaneval()
    assert len(b.queries) == 164 and len(b.docs) > 164
    assert b.relevant == list(range(164))
    assert "def has_close_elements(" in b.docs[0] and "def has_close_elements(" not in b.queries[0]
    dev, test = b.split()
    assert dev.queries == b.queries[0::2] and test.relevant == b.relevant[1::2]
    part = dev.subset("fit", slice(0, 10))
    assert part.name == "humaneval-dev-fit" and part.queries == dev.queries[:10]
    assert part.docs is b.docs


def test_gsm8k_pairs_each_question_with_its_worked_answer():
    b = gsm8k()
    assert len(b.queries) == len(b.docs) == 1319 and b.docs[0].rstrip().split()[-1].isdigit()


def test_docstring_pairs_are_code_outside_the_benchmark():
    pairs = docstring_pairs(limit=50)
    assert len(pairs) == 50 and pairs == docstring_pairs(limit=50)
    docs = set(humaneval().docs)
    for doc, code in pairs:
        assert "def " in code and doc not in code and code not in docs
        assert len(doc.split()) >= 8
