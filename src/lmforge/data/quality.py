"""Quality heuristics after Gopher (Rae et al. 2021), C4 (Raffel et al. 2020) and FineWeb (2024).

Thresholds default to the published values (as datatrove implements them) and are all
configurable. Each failed rule drops the document with its own reason code, checked in the
order listed, so a test can assert exactly why a document went.
"""

import re
from collections import Counter

from lmforge.data.document import Document
from lmforge.data.steps import KEEP, Step

_WORD = re.compile(r"\w+(?:['-]\w+)*")
_TERMINAL = (".", "!", "?", '"', "'", "\u201d", "\u2019")
STOP_WORDS = frozenset(("the", "be", "to", "of", "and", "that", "have", "with"))
_BULLETS = ("\u2022", "\u2023", "\u25b6", "\u25cf", "\u25e6", "-", "*", "\u2013")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text)


def _dup_fraction(items: list[str]) -> tuple[float, float]:
    """(share of items that repeat an earlier one, share of characters in those items)."""
    seen: set[str] = set()
    n_dup = chars_dup = 0
    for it in items:
        if it in seen:
            n_dup += 1
            chars_dup += len(it)
        seen.add(it)
    total_chars = sum(len(i) for i in items) or 1
    return n_dup / max(len(items), 1), chars_dup / total_chars


def _top_ngram_char_fraction(words: list[str], n: int) -> float:
    """Characters covered by the most frequent n-gram, over all word characters."""
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0.0
    gram, count = grams.most_common(1)[0]
    return count * sum(len(w) for w in gram) / max(sum(len(w) for w in words), 1)


def _dup_ngram_char_fraction(words: list[str], n: int) -> float:
    """Characters of words inside n-grams that occur more than once, over all word characters."""
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        g = tuple(words[i : i + n])
        if g in seen:
            covered[i : i + n] = [True] * n
        seen.add(g)
    dup = sum(len(w) for w, c in zip(words, covered, strict=True) if c)
    return dup / max(sum(len(w) for w in words), 1)


class Gopher(Step):
    """Gopher quality + repetition rules (word count, word length, symbols, lines, stop words)."""

    name = "gopher"

    def __init__(
        self,
        min_words: int = 50,
        max_words: int = 100_000,
        min_mean_word_length: float = 3.0,
        max_mean_word_length: float = 10.0,
        max_symbol_word_ratio: float = 0.1,
        max_bullet_lines: float = 0.9,
        max_ellipsis_lines: float = 0.3,
        min_alpha_words: float = 0.8,
        min_stop_words: int = 2,
        max_dup_lines: float = 0.3,
        max_dup_paragraphs: float = 0.3,
        max_dup_line_chars: float = 0.2,
        max_dup_paragraph_chars: float = 0.2,
        top_ngram_max: dict[int, float] | None = None,
        dup_ngram_max: dict[int, float] | None = None,
    ) -> None:
        self.min_words, self.max_words = min_words, max_words
        self.min_mwl, self.max_mwl = min_mean_word_length, max_mean_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines, self.max_ellipsis_lines = max_bullet_lines, max_ellipsis_lines
        self.min_alpha_words, self.min_stop_words = min_alpha_words, min_stop_words
        self.max_dup_lines, self.max_dup_paragraphs = max_dup_lines, max_dup_paragraphs
        self.max_dup_line_chars, self.max_dup_paragraph_chars = (
            max_dup_line_chars,
            max_dup_paragraph_chars,
        )
        self.top_ngram_max = top_ngram_max or {2: 0.2, 3: 0.18, 4: 0.16}
        self.dup_ngram_max = dup_ngram_max or {
            5: 0.15,
            6: 0.14,
            7: 0.13,
            8: 0.12,
            9: 0.11,
            10: 0.10,
        }

    def __call__(self, doc: Document) -> tuple[bool, str]:
        text = doc.text
        words = words_of(text)
        n = len(words)
        if not self.min_words <= n <= self.max_words:
            return False, "gopher_word_count"
        mean_len = sum(len(w) for w in words) / n
        if not self.min_mwl <= mean_len <= self.max_mwl:
            return False, "gopher_mean_word_length"
        symbols = text.count("#") + text.count("...") + text.count("\u2026")
        if symbols / n > self.max_symbol_word_ratio:
            return False, "gopher_symbol_word_ratio"
        lines = [ln for ln in text.split("\n") if ln.strip()]
        if lines:
            bullets = sum(ln.lstrip().startswith(_BULLETS) for ln in lines)
            if bullets / len(lines) > self.max_bullet_lines:
                return False, "gopher_bullet_lines"
            ellipsis = sum(ln.rstrip().endswith(("...", "\u2026")) for ln in lines)
            if ellipsis / len(lines) > self.max_ellipsis_lines:
                return False, "gopher_ellipsis_lines"
        if sum(any(c.isalpha() for c in w) for w in words) / n < self.min_alpha_words:
            return False, "gopher_alpha_words"
        lower = [w.lower() for w in words]
        if len(STOP_WORDS.intersection(lower)) < self.min_stop_words:
            return False, "gopher_stop_words"
        return self._repetition(text, lines, lower)

    def _repetition(self, text: str, lines: list[str], words: list[str]) -> tuple[bool, str]:
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        frac, chars = _dup_fraction(paragraphs)
        if frac > self.max_dup_paragraphs:
            return False, "gopher_dup_paragraphs"
        if chars > self.max_dup_paragraph_chars:
            return False, "gopher_dup_paragraph_chars"
        frac, chars = _dup_fraction(lines)
        if frac > self.max_dup_lines:
            return False, "gopher_dup_lines"
        if chars > self.max_dup_line_chars:
            return False, "gopher_dup_line_chars"
        for n, limit in self.top_ngram_max.items():
            if _top_ngram_char_fraction(words, n) > limit:
                return False, f"gopher_top_{n}gram"
        for n, limit in self.dup_ngram_max.items():
            if _dup_ngram_char_fraction(words, n) > limit:
                return False, f"gopher_dup_{n}gram"
        return KEEP


class C4(Step):
    """C4 rules: drop lorem ipsum / curly-brace documents; keep only lines that end in terminal
    punctuation, have enough words and do not mention javascript; need enough sentences left."""

    name = "c4"

    def __init__(
        self,
        filter_no_terminal_punct: bool = True,
        min_words_per_line: int = 3,
        filter_javascript: bool = True,
        filter_lorem_ipsum: bool = True,
        filter_curly_bracket: bool = True,
        min_num_sentences: int = 5,
    ) -> None:
        self.no_terminal, self.min_words_per_line = filter_no_terminal_punct, min_words_per_line
        self.javascript, self.lorem = filter_javascript, filter_lorem_ipsum
        self.curly, self.min_num_sentences = filter_curly_bracket, min_num_sentences

    def __call__(self, doc: Document) -> tuple[bool, str]:
        lower = doc.text.lower()
        if self.lorem and "lorem ipsum" in lower:
            return False, "c4_lorem_ipsum"
        if self.curly and "{" in doc.text:
            return False, "c4_curly_bracket"
        kept = []
        for line in doc.text.split("\n"):
            s = line.strip()
            if not s:
                continue
            if self.no_terminal and not s.endswith(_TERMINAL):
                continue
            if len(s.split()) < self.min_words_per_line:
                continue
            if self.javascript and "javascript" in s.lower():
                continue
            kept.append(s)
        if not kept:
            return False, "c4_no_lines_left"
        text = "\n".join(kept)
        if len(re.findall(r"[.!?]+(?:\s|$)", text)) < self.min_num_sentences:
            return False, "c4_too_few_sentences"
        doc.text = text
        return KEEP


class FineWeb(Step):
    """FineWeb rules: share of lines ending in punctuation, share of short lines, characters in
    duplicated lines, and words per line (lists and tables of one word a line)."""

    name = "fineweb"

    def __init__(
        self,
        min_line_punct: float = 0.12,
        short_line_chars: int = 30,
        max_short_lines: float = 0.67,
        max_dup_line_chars: float = 0.01,
        max_newline_word_ratio: float = 0.3,
    ) -> None:
        self.min_line_punct, self.short_line_chars = min_line_punct, short_line_chars
        self.max_short_lines, self.max_dup_line_chars = max_short_lines, max_dup_line_chars
        self.max_newline_word_ratio = max_newline_word_ratio

    def __call__(self, doc: Document) -> tuple[bool, str]:
        lines = [ln.strip() for ln in doc.text.split("\n") if ln.strip()]
        if not lines:
            return False, "fineweb_empty"
        if sum(ln.endswith(_TERMINAL) for ln in lines) / len(lines) <= self.min_line_punct:
            return False, "fineweb_line_punct"
        if (
            sum(len(ln) <= self.short_line_chars for ln in lines) / len(lines)
            >= self.max_short_lines
        ):
            return False, "fineweb_short_lines"
        _, dup_chars = _dup_fraction(lines)
        if dup_chars >= self.max_dup_line_chars:
            return False, "fineweb_dup_line_chars"
        n_words = len(words_of(doc.text))
        if doc.text.count("\n") / max(n_words, 1) > self.max_newline_word_ratio:
            return False, "fineweb_newline_ratio"
        return KEEP
