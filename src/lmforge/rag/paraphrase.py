"""Meaning-preserving rewrites of GSM8K sentences, so a labelled answer is not a verbatim copy.

Real answers paraphrase their sources; a grounding set whose supported sentences are copied
word for word lets a token-overlap check score near-perfect F1 (docs/benchmarks.md, grounding).
`paraphrase` rewrites a sentence with curated rules that keep its meaning, so the label stays
known by construction:

- word and phrase swaps chosen to be synonyms in GSM8K's register ("bought" -> "purchased",
  "children" -> "kids", "per day" -> "each day", "has to" -> "must");
- small integers outside arithmetic spelled out ("9 duck eggs" -> "nine duck eggs") and dollar
  amounts as words ("$18" -> "18 dollars");
- connectives swapped ("So" -> "Hence", "Therefore," -> "Thus,", "The answer is N." -> "In
  the end, the answer comes to N.");
- a sentence no rule changes gets a reporting lead-in ("We are told that ..."), as answers
  often have.

Only rules that are safe in every context were kept: a swap that reads oddly somewhere ("left",
"get", "has") is not in the table. Deterministic: no randomness, the same sentence always gives
the same rewrite.
"""

import re

_WORDS = {
    "bought": "purchased",
    "buy": "purchase",
    "buys": "purchases",
    "buying": "purchasing",
    "gets": "receives",
    "needs": "requires",
    "children": "kids",
    "people": "persons",
    "store": "shop",
    "mom": "mother",
    "dad": "father",
    "kg": "kilograms",
    "ate": "consumed",
    "eats": "consumes",
    "because": "since",
    "means": "implies",
    "remaining": "leftover",
    "altogether": "in all",
    "amount": "quantity",
    "begins": "starts",
    "finishes": "completes",
    "twice": "two times",
    "daily": "each day",
    "large": "big",
    "small": "little",
    "quickly": "fast",
    "purchased": "bought",
    "receives": "gets",
}
_PHRASES = [
    (re.compile(r"^The answer is (.+)\.$"), r"In the end, the answer comes to \1."),
    (re.compile(r"^Therefore, "), "Thus, "),
    (re.compile(r"^So,? "), "Hence, "),
    (re.compile(r"\b(has|have|needs?) to\b"), "must"),
    (re.compile(r"\bper (day|week|month|year|hour|minute)\b"), r"each \1"),
    (re.compile(r"\bevery (?=[a-z]+\b)(?!one\b|other\b)"), "each "),
    (re.compile(r"\bnumber of\b"), "count of"),
    (re.compile(r"\bin total\b"), "altogether"),
    (re.compile(r"\ba total of\b"), "altogether"),
]
_NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
# An integer with no arithmetic, decimal, currency, unit glue or percent next to it.
_SMALL = re.compile(r"(?<![\d.$%,/*+=x-])(?<![\d.$%,/*+=x-] )\b(\d{1,2})\b(?! ?[\d.%,/*+=:x-])")
# A dollar amount outside arithmetic ("$18 a day", not "$10 - $6").
_DOLLARS = re.compile(r"(?<![-+*/=x] )(?<![-+*/=x])\$(\d+(?:\.\d+)?)(?![\d.,]| ?[-+*/=x] )")
# When no rule applies, a lead-in as answers often have; its first word lowercased if common.
_LEADS = ("It says that ", "We are told that ", "The text states that ")
_COMMON = frozenset(
    [
        "The",
        "She",
        "He",
        "They",
        "It",
        "If",
        "In",
        "On",
        "At",
        "Each",
        "For",
        "There",
        "This",
        "That",
        "His",
        "Her",
        "We",
        "Let",
        "Then",
        "Now",
        "When",
        "After",
        "Since",
        "Out",
        "Of",
        "All",
        "One",
        "A",
        "An",
        "Combining",
        "Adding",
        "Subtracting",
        "Multiplying",
        "Dividing",
    ]
)
_WORD = re.compile(r"\b[A-Za-z]+\b")


def _swap_word(m: re.Match[str]) -> str:
    w = m.group(0)
    new = _WORDS.get(w.lower())
    if new is None:
        return w
    return new[0].upper() + new[1:] if w[0].isupper() else new


def _spell(m: re.Match[str]) -> str:
    n = int(m.group(1))
    return _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else m.group(1)


def paraphrase(sentence: str) -> str:
    """`sentence` rewritten by the rules above (unchanged when none applies)."""
    s = sentence
    for pattern, repl in _PHRASES:
        s = pattern.sub(repl, s)
    s = _WORD.sub(_swap_word, s)
    s = _SMALL.sub(_spell, s)
    s = _DOLLARS.sub(r"\1 dollars", s)
    if s != sentence:
        return s
    first = s.split(" ", 1)[0]
    head = first.lower() if first in _COMMON else first
    return _LEADS[len(s) % len(_LEADS)] + head + s[len(first) :]
