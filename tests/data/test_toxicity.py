from lmforge.data.toxicity import SATURATION, toxic_words, toxicity_score, wordlist


def test_wordlist_loaded_once_from_better_profanity() -> None:
    words, phrases = wordlist()
    assert len(words) > 800 and "shit" in words
    assert "blow job" in phrases
    assert wordlist() is wordlist()


def test_toxic_words_case_punctuation_phrases() -> None:
    assert toxic_words("You are a Fucking idiot, SHIT! what a blow job") == [
        "fucking",
        "shit",
        "blow job",
    ]
    assert toxic_words("The Scunthorpe assessment passed the class.") == []


def test_score_bounds_and_scaling() -> None:
    assert toxicity_score("") == 0.0
    assert toxicity_score("a perfectly clean sentence about gardening") == 0.0
    assert toxicity_score("shit shit") == 1.0
    long_text = " ".join(["word"] * 99 + ["shit"])
    assert toxicity_score(long_text) == (1 / 100) / SATURATION
    assert 0.0 < toxicity_score(long_text) < 1.0
