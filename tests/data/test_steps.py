"""Each step's documented drop reasons, asserted exactly."""

import pytest

from lmforge.data.document import Document
from lmforge.data.quality import C4, FineWeb, Gopher
from lmforge.data.safety import PII, Toxicity
from lmforge.data.steps import LangID, Normalize

PROSE = (
    "The river runs through the old town and the bridge was built with stone. "
    "Many people walk to the market in the morning to buy bread and fruit. "
    "In the evening the square is quiet and the lamps light the narrow streets. "
    "Visitors often say that the view from the hill is the best part of the trip. "
    "The museum has a collection of paintings that tell the history of the region."
)

ELLIPSIS = "\n".join(
    f"The story of the town goes on and on with the number {i} and more..."
    if i % 2
    else f"Another line of the text is here with the value {i} and the end."
    for i in range(20)
)


def doc(text: str) -> Document:
    return Document("d", text)


def test_normalize_repairs_and_tidies() -> None:
    d = doc("  Caf\u00c3\u00a9\u200b  au \x00lait\r\n\n\n\nnext\u00a0 line ")
    assert Normalize()(d) == (True, "")
    assert d.text == "Café au lait\n\nnext line"
    assert Normalize()(doc(" \x00 \u200b ")) == (False, "normalize_empty")


def test_langid_keep_list_and_score() -> None:
    step = LangID(keep=["en"], min_score=0.5)
    step.setup()
    d = doc(PROSE)
    assert step(d) == (True, "")
    assert d.metadata["lang"] == "en"
    fr = doc("Le gouvernement a annoncé mardi une série de mesures pour les agriculteurs.")
    assert step(fr) == (False, "langid_language")
    assert LangID(keep=None, min_score=1.0)(doc(PROSE)) == (False, "langid_low_score")


@pytest.mark.parametrize(
    ("text", "kwargs", "reason"),
    [
        ("too few words here", {}, "gopher_word_count"),
        (" ".join(["supercalifragilistic"] * 60), {}, "gopher_mean_word_length"),
        (PROSE + " #" * 20, {}, "gopher_symbol_word_ratio"),
        (
            "\n".join(f"- item {i} of the list and the rest" for i in range(20)),
            {},
            "gopher_bullet_lines",
        ),
        (ELLIPSIS, {}, "gopher_ellipsis_lines"),
        (PROSE + " " + " ".join(["12345"] * 30), {}, "gopher_alpha_words"),
        (" ".join(f"word{i} alpha beta gamma" for i in range(20)), {}, "gopher_stop_words"),
        ((PROSE + "\n\n") * 3, {}, "gopher_dup_paragraphs"),
        (PROSE + " " + "big dog " * 30, {}, "gopher_top_2gram"),
    ],
)
def test_gopher_reasons(text: str, kwargs: dict, reason: str) -> None:
    assert Gopher(**kwargs)(doc(text)) == (False, reason)


def test_gopher_keeps_prose() -> None:
    assert Gopher()(doc(PROSE)) == (True, "")


def test_c4_reasons_and_line_filter() -> None:
    assert C4()(doc("Lorem ipsum dolor sit amet. " + PROSE)) == (False, "c4_lorem_ipsum")
    assert C4()(doc(PROSE + " function() { return 1; }")) == (False, "c4_curly_bracket")
    assert C4()(doc("no punctuation here at all\nnor here either")) == (False, "c4_no_lines_left")
    assert C4()(doc("One short sentence here.")) == (False, "c4_too_few_sentences")
    d = doc(PROSE + "\nPlease enable JavaScript to view this page.\nMenu\nHome")
    assert C4()(d) == (True, "")
    assert d.text == PROSE


def test_fineweb_reasons() -> None:
    assert FineWeb()(doc("\n".join(f"line {i} without end" for i in range(10)))) == (
        False,
        "fineweb_line_punct",
    )
    assert FineWeb()(doc("Short one.\nAnother one.\nThird.\n" + PROSE)) == (
        False,
        "fineweb_short_lines",
    )
    long_line = "This line is long enough to not count as a short line at all."
    text = "\n".join([long_line, long_line, PROSE])
    assert FineWeb()(doc(text)) == (False, "fineweb_dup_line_chars")
    assert FineWeb()(doc(PROSE)) == (True, "")


def test_toxicity_threshold_and_classifier_slot(tmp_path, monkeypatch) -> None:
    step = Toxicity(threshold=0.5)
    step.setup()
    assert step(doc("you are a fucking idiot")) == (False, "toxicity_score")
    d = doc(PROSE)
    assert step(d) == (True, "") and d.metadata["toxicity"] == 0.0
    (tmp_path / "my_clf.py").write_text("def score(text):\n    return 0.9\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    custom = Toxicity(threshold=0.5, classifier="my_clf:score")
    custom.setup()
    assert custom(doc(PROSE)) == (False, "toxicity_score")


def test_pii_redact_and_drop() -> None:
    d = doc("Write to a@b.io or call +1 555-123-4567.")
    assert PII()(d) == (True, "")
    assert d.text == "Write to [email] or call [phone]."
    assert d.metadata["pii"] == {"email": 1, "phone": 1}
    assert PII(mode="drop")(doc("host 10.0.0.1 is down")) == (False, "pii_ip")
