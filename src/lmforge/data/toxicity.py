"""Word-list toxicity: which words of a text are on better-profanity's list, and a score.

better-profanity's own matcher expands every word into leetspeak variants and is slow on long
documents; we only need its word list (916 words and phrases, shipped inside the package),
loaded once into a set and looked up per token and per 2/4-token phrase. The score is the share
of toxic words scaled so that one toxic word in ten saturates it: a single slur in a short
message scores high, one swear word in a long article scores low.
"""

import functools
import importlib.resources
import re

SATURATION = 0.1  # share of toxic words at which the score reaches 1.0
_TOKEN = re.compile(r"\S+")
_STRIP = ".,;:!?\"'()[]{}<>«»“”\u2018\u2019…"


@functools.cache
def wordlist() -> tuple[frozenset[str], frozenset[str]]:
    """(single words, multi-word phrases) of better-profanity's list, lower-cased."""
    try:
        text = (
            importlib.resources.files("better_profanity")
            .joinpath("profanity_wordlist.txt")
            .read_text(encoding="utf-8")
        )
    except ModuleNotFoundError:
        from lmforge.errors import MissingExtraError

        raise MissingExtraError("data", "better_profanity") from None
    entries = {line.strip().lower() for line in text.splitlines() if line.strip()}
    return frozenset(e for e in entries if " " not in e), frozenset(e for e in entries if " " in e)


def _tokens(text: str) -> list[tuple[str, str]]:
    """(raw lower-cased token, token stripped of surrounding punctuation) pairs."""
    return [(t, t.strip(_STRIP)) for t in _TOKEN.findall(text.lower())]


def toxic_words(text: str) -> list[str]:
    """The toxic words and phrases of `text`, lower-cased, in order of appearance."""
    words, phrases = wordlist()
    toks = _tokens(text)
    bare = [b for _, b in toks]
    found: list[str] = []
    i = 0
    while i < len(toks):
        for n in (4, 2):  # longest phrase first, so "blow job" is one hit, not two
            if i + n <= len(bare) and (p := " ".join(bare[i : i + n])) in phrases:
                found.append(p)
                i += n
                break
        else:
            raw, b = toks[i]
            if raw in words or b in words:
                found.append(raw if raw in words else b)
            i += 1
    return found


def toxicity_score(text: str) -> float:
    """Share of toxic words in `text` divided by `SATURATION`, capped to [0, 1]."""
    n_words = len(_TOKEN.findall(text))
    if n_words == 0:
        return 0.0
    n_toxic = sum(len(w.split()) for w in toxic_words(text))
    return min(1.0, n_toxic / n_words / SATURATION)
