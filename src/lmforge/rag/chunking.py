"""Chunkers: fixed token windows, recursive (headings -> paragraphs -> sentences), semantic.

Sizes are counted in the embedder's own tokens and capped at what it can see (its
`max_seq_length` minus the [CLS]/[SEP] it adds), because a chunk the embedder truncates is
indexed by its beginning only and silently loses its tail.
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmforge.rag.documents import Document, Section

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n")


@dataclass(slots=True)
class Chunk:
    """A unit of retrieval: text plus where it came from (for citations)."""

    text: str
    source: str
    position: int  # order of the chunk within its source
    headings: tuple[str, ...]

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)


class Chunker(ABC):
    """Base: split each section of a document, never crossing heading boundaries."""

    def __init__(self, tokenizer, max_tokens: int, size: int, overlap: int = 0) -> None:
        self.tokenizer = tokenizer
        self.size = min(size, max_tokens)
        self.overlap = min(overlap, self.size // 2)
        assert self.size > 0 and 0 <= self.overlap < self.size

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    @abstractmethod
    def split_section(self, section: Section) -> list[str]:
        """The chunk texts of one section (each within `size` tokens)."""

    def windows(self, text: str) -> list[str]:
        """Fixed windows of `size` tokens with `overlap`, sliced from the original text."""
        enc = self.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        offsets = enc["offset_mapping"]
        out, step = [], self.size - self.overlap
        for start in range(0, max(len(offsets), 1), step):
            span = offsets[start : start + self.size]
            if not span:
                break
            out.append(text[span[0][0] : span[-1][1]].strip())
            if start + self.size >= len(offsets):
                break
        return [t for t in out if t]

    def chunk(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in doc.sections:
            for text in self.split_section(section):
                chunks.append(Chunk(text, doc.path, len(chunks), section.headings))
        return chunks


class TokenChunker(Chunker):
    def split_section(self, section: Section) -> list[str]:
        return self.windows(section.text)


class RecursiveChunker(Chunker):
    """Greedily packs paragraphs, then sentences, then token windows into chunks of `size`."""

    def split_section(self, section: Section) -> list[str]:
        return self._pack(section.text, [_PARAGRAPH, _SENTENCE])

    def _pack(self, text: str, seps: list[re.Pattern[str]]) -> list[str]:
        if self.count(text) <= self.size:
            return [text.strip()] if text.strip() else []
        if not seps:
            return self.windows(text)
        pieces = [p.strip() for p in seps[0].split(text) if p.strip()]
        joiner = "\n\n" if seps[0] is _PARAGRAPH else " "
        out: list[str] = []
        buf: list[str] = []
        for piece in pieces:
            if self.count(piece) > self.size:
                if buf:
                    out.append(joiner.join(buf))
                    buf = []
                out.extend(self._pack(piece, seps[1:]))
            elif self.count(joiner.join([*buf, piece])) <= self.size:
                buf.append(piece)
            else:
                out.append(joiner.join(buf))
                buf = [piece]
        if buf:
            out.append(joiner.join(buf))
        return out


class SemanticChunker(Chunker):
    """Splits between neighbouring sentences whose embedding distance is in the top percentile."""

    def __init__(
        self,
        tokenizer,
        max_tokens: int,
        size: int,
        encode: Callable[[list[str]], np.ndarray],
        percentile: float = 90.0,
    ) -> None:
        super().__init__(tokenizer, max_tokens, size)
        self.encode = encode
        self.percentile = percentile
        self._recursive = RecursiveChunker(tokenizer, max_tokens, size)

    def split_section(self, section: Section) -> list[str]:
        sentences = [s.strip() for s in _SENTENCE.split(section.text) if s.strip()]
        if len(sentences) < 3:
            return self._recursive.split_section(section)
        vecs = self.encode(sentences)
        dist = 1.0 - np.sum(vecs[:-1] * vecs[1:], axis=1)  # cosine distance (unit vectors)
        cut = float(np.percentile(dist, self.percentile))
        groups: list[list[str]] = [[sentences[0]]]
        for sentence, d in zip(sentences[1:], dist, strict=True):
            if d > cut:
                groups.append([sentence])
            else:
                groups[-1].append(sentence)
        out: list[str] = []
        for g in groups:  # a group bigger than the budget is packed recursively
            out.extend(self._recursive._pack(" ".join(g), [_SENTENCE]))
        return out


def make_chunker(kind: str, embedder, size: int, overlap: int, percentile: float) -> Chunker:
    tok, cap = embedder.tokenizer, embedder.max_tokens - 2  # room for [CLS] and [SEP]
    if kind == "token":
        return TokenChunker(tok, cap, size, overlap)
    if kind == "recursive":
        return RecursiveChunker(tok, cap, size)
    if kind == "semantic":
        return SemanticChunker(tok, cap, size, embedder.encode, percentile)
    raise ValueError(f"unknown chunker {kind!r}")
