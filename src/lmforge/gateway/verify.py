"""Does a cached prompt mean the same as a new one? The semantic cache's lexical verifier.

Cosine similarity alone cannot tell "What is 17 * 23?" from "What is 17 * 24?" (MiniLM puts
them at ~0.97, above most true paraphrases), and it ranks lowercase swaps ("sort a list" /
"sort a dictionary", "bigger" / "smaller") above real paraphrases. So a candidate above the
cosine bar must also pass `match_kind`:

- the salient words (numbers, arithmetic operators, negations, capitalised names) are equal,
  in order; each number keeps the unit written after it ("5 miles to kilometers" is not
  "5 kilometers to miles");
- when both prompts state a direction ("to", "from", "than", ...), the words they share keep
  their order ("convert a list to a string" is not "convert a string to a list");
- the content words (stop words and request framing such as "tell me" dropped) differ only
  by additions on one side or by WordNet synonyms (gateway/synonyms.py: "bigger" / "larger"
  pass, "bigger" / "smaller" do not).

A looser rule that admitted larger rewordings ("bigger" / "greater size") above a second,
higher cosine bar was measured and dropped: a near miss that swaps one word and adds or drops
another ("population" / "total area") is a rewording too, and it let 10 of them through on
the held-out families (docs/benchmarks.md, gateway).
"""

import functools
import re

from lmforge.gateway.synonyms import are_synonyms


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NEGATIONS = _words(
    "not no never none nothing nobody neither nor without cannot cant can't don't doesn't"
    " didn't isn't aren't wasn't weren't won't wouldn't shouldn't couldn't hasn't haven't"
    " hadn't mustn't n't"
)
FRAMING = _words(
    "what which who whom whose how why when where tell show give explain describe calculate"
    " recommend suggest compute name write implement please help need want know way ways mean"
    " get make does do did is are was can could would should will say me my i you your we our"
    " us it its the a an of to in on for with by at from about into as using via"
)
# Words that give the words around them roles: "a list to a string", "X bigger than Y".
DIRECTIONS = {"to": "to", "into": "to", "onto": "to", "from": "from", "than": "than"}
DIRECTIONS |= {"versus": "vs", "vs": "vs"}
# "I" and its contractions are capitalised everywhere, so they are not names
_PRONOUN_I = frozenset({"i", "i'm", "i'd", "i've", "i'll"})
_LOWER = re.compile(r"[a-z0-9]+")
_NUM = re.compile(r"-?\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019]*")
_SENTENCE_END = re.compile(r"[.?!:]\s*$")
_NOUN_VERB = re.compile(r"(ar|or)i[sz]e[sd]?$")  # summarize -> summary, memorized -> memory
# Arithmetic operators are salient like numbers: "17 times 23" / "17 plus 23" is a near miss,
# "17 times 23" / "multiply 17 by 23" is not.
_OPERATORS = {w: "MUL" for w in ("times", "multiplied", "multiply", "product")}
_OPERATORS |= {w: "ADD" for w in ("plus", "add", "added", "sum")}
_OPERATORS |= {w: "SUB" for w in ("minus", "subtract", "subtracted")}
_OPERATORS |= {w: "DIV" for w in ("divided", "divide", "over")}


def salient(text: str) -> list[str]:
    """Numbers, operators, negations and capitalised names, in order: the words a near miss
    changes. A capital after a sentence end (or at the start) is not a name."""
    out = [n.replace(",", "") for n in _NUM.findall(text)]
    ops = []
    for i, m in enumerate(_WORD.finditer(text)):
        w = m.group()
        lw = w.lower().replace("\u2019", "'")
        if lw in NEGATIONS or lw.endswith("n't"):
            out.append("NOT")
        elif lw in _OPERATORS and _NUM.search(text):
            ops.append(_OPERATORS[lw])
        elif (
            i > 0
            and w[0].isupper()
            and lw not in _PRONOUN_I
            and not _SENTENCE_END.search(text[: m.start()])
            and text[m.start() - 1 : m.start()] != "-"
        ):
            out.append(lw)
    return out + sorted(set(ops))


def same_salient(a: str, b: str) -> bool:
    return salient(a) == salient(b)


def _stem(w: str) -> str:
    m = _NOUN_VERB.search(w)
    if m and m.start() > 2:  # the verb shares the noun's stem: "summarize" / "summary"
        return w[: m.start()] + m.group(1) + "y"
    if len(w) > 4 and w.endswith(("ied", "ies")):  # multiplied, multiplies -> multiply
        return w[:-3] + "y"
    for suf in ("ing", "ed", "es", "ly", "s"):
        if len(w) > 4 and w.endswith(suf) and not (suf == "ly" and w.endswith("ply")):
            return w[: -len(suf)]
    return w


@functools.cache
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | FRAMING


def content_words(text: str) -> list[tuple[str, str]]:
    """(stem, word) of each content word, in order (operators of a sum are salient instead)."""
    stop = _stop_words()
    ops = _OPERATORS if _NUM.search(text) else {}
    return [(_stem(w), w) for w in _LOWER.findall(text.lower()) if w not in stop and w not in ops]


def number_units(text: str) -> list[str | None]:
    """The content word right after each number ("5 miles" -> "mile"), None if there is none.

    Word order is otherwise free ("How many kilometers are 5 miles?" / "Convert 5 miles to
    kilometers."), but a number keeps its unit: "5 miles to kilometers" is not "5 kilometers
    to miles"."""
    stop = _stop_words()
    out: list[str | None] = []
    for m in _NUM.finditer(text):
        nxt = (
            _LOWER.match(text.lower(), m.end() + 1) if text[m.end() : m.end() + 1] == " " else None
        )
        w = nxt.group() if nxt else ""
        unit = w and w not in stop and w not in _OPERATORS and not w.isdigit()
        out.append(_stem(w).rstrip("e") if unit else None)
    return out


def _directed(text: str) -> set[str]:
    return {DIRECTIONS[w] for w in _LOWER.findall(text.lower()) if w in DIRECTIONS}


def _same_order(sa: list[str], sb: list[str]) -> bool:
    """The words both sides share come in the same order."""
    return [w for w in sa if w in sb] == [w for w in sb if w in sa]


def same_structure(a: str, b: str) -> bool:
    """Salient words equal, each number with the same unit where both name one, shared words
    in order where both state a direction: everything `compatible` checks but the words."""
    if not same_salient(a, b):
        return False
    ua, ub = number_units(a), number_units(b)
    if any(x is not None and y is not None and x != y for x, y in zip(ua, ub, strict=False)):
        return False
    sa, sb = [s for s, _ in content_words(a)], [s for s, _ in content_words(b)]
    return not (_directed(a) & _directed(b) and not _same_order(sa, sb))


def compatible(a: str, b: str) -> bool:
    """May a cached answer to `a` answer `b`? `same_structure`, and no content word replaced
    except by a synonym."""
    if not same_structure(a, b):
        return False
    wa, wb = content_words(a), content_words(b)
    sa, sb = [s for s, _ in wa], [s for s, _ in wb]
    only_a = [(s, w) for s, w in wa if s not in sb]
    only_b = [(s, w) for s, w in wb if s not in sa]
    if only_a and only_b:  # a replacement: allowed only word for synonym, one to one
        rename = {}
        for s, w in only_b:
            match = next((x for x in only_a if are_synonyms(x[1], w)), None)
            if match is not None:
                rename[s] = match[0]
                only_a.remove(match)
        sb = [rename.get(s, s) for s in sb]
        if only_a and [s for s in sb if s not in sa]:
            return False
        # a synonym swap keeps the order ("big files to small" / "small files to large")
        if rename and not _same_order(sa, sb):
            return False
    return True
