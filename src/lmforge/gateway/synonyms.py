"""Synonyms from WordNet, for the semantic cache's word-replacement check.

A paraphrase often swaps one content word for a synonym ("bigger" / "larger", "kind" /
"sort"), which MiniLM cannot tell from an antonym swap ("bigger" / "smaller" scores higher).
WordNet can: two words are synonyms here when they share a synset that is among the first
three frequency-attested senses of both and the first sense of at least one (senses are listed
most frequent first, so a rare sense such as dog = "frump" or minute = "moment" cannot join two
words); antonyms never share a synset. The lexicon ships in the package
(data/synonyms.txt.gz, built by scripts/build_synonyms.py from WordNet 3.1; its license in
data/WORDNET-LICENSE). Inflected forms are looked up through their candidate lemmas
(bigger -> big, multiplied -> multiply).
"""

import functools
import gzip
from importlib import resources


@functools.cache
def lexicon() -> dict[str, tuple[frozenset[int], frozenset[int]]]:
    """lemma -> (ids of its top-sense synsets, ids of its first senses per part of speech)."""
    raw = resources.files("lmforge.gateway").joinpath("data/synonyms.txt.gz").read_bytes()
    out = {}
    for line in gzip.decompress(raw).decode().splitlines():
        lemma, *ids = line.split()
        out[lemma] = (
            frozenset(int(i.rstrip("*")) for i in ids),
            frozenset(int(i[:-1]) for i in ids if i.endswith("*")),
        )
    return out


def lemmas(word: str) -> list[str]:
    """The word and the base forms it may be an inflection of (WordNet's detachment rules)."""
    out = [word]
    for suffix, repl in (
        ("ies", "y"), ("ied", "y"), ("ier", "y"), ("iest", "y"), ("es", ""), ("s", ""),
        ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("er", ""), ("er", "e"),
        ("est", ""), ("est", "e"),
    ):  # fmt: skip
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            base = word[: -len(suffix)] + repl
            out.append(base)
            if not repl and len(base) > 2 and base[-1] == base[-2]:  # bigger -> bigg -> big
                out.append(base[:-1])
    return out


@functools.cache
def synsets(word: str) -> tuple[frozenset[int], frozenset[int]]:
    """(top senses, first senses) of the word through its candidate lemmas."""
    lex, none = lexicon(), (frozenset(), frozenset())
    top, first = frozenset[int](), frozenset[int]()
    for lemma in lemmas(word):
        t, f = lex.get(lemma, none)
        top, first = top | t, first | f
    return top, first


def are_synonyms(a: str, b: str) -> bool:
    """A shared synset that is the first sense of at least one of the two words: "minutes" /
    "seconds" share only "a moment", neither word's first sense, so they are not synonyms."""
    (ta, fa), (tb, fb) = synsets(a), synsets(b)
    return a != b and bool((fa & tb) | (fb & ta))
