"""Words in a query: matching that tolerates OCR's errors, and the snippets a result shows.

OCR misreads characters ("dragom" for "dragon"), and people mistype.  Every word a text
signal reads goes into a vocabulary (``text_word``); a query word that is not in it is
replaced by the nearest vocabulary words (any of them) within ``search.fuzzy`` edits (optimal string
alignment: a swap of two letters is one edit), never more than its length allows (none
for words of up to 3 letters, one up to 6, two from 7).  The corrected query is searched
as well, and its hits rank below exact ones (:data:`FUZZY_WEIGHT`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lookalike.catalog.texts import WORD, Texts
from lookalike.records import TextField

__all__ = ["FUZZY_WEIGHT", "Correction", "Snippet", "correct", "edits_for", "snippets", "tokens"]

#: An image found only through corrected words scores at most this much of an exact hit.
FUZZY_WEIGHT = 0.8


def tokens(text: str) -> list[str]:
    """The words of ``text``, lower case, as the vocabulary keeps them."""
    return [w.lower() for w in WORD.findall(text)]


def edits_for(word: str, most: int) -> int:
    """How many edits a query word of this length may be off by (at most ``most``)."""
    allowed = 0 if len(word) <= 3 else 1 if len(word) <= 6 else 2
    return min(allowed, most)


@dataclass(frozen=True)
class Correction:
    """The unknown words of a query, each with the known words it may stand for."""

    replaced: dict[str, tuple[str, ...]]  # query word -> the nearest words read in images

    def describe(self) -> str:
        return ", ".join(f"'{a}' as " + " or ".join(f"'{w}'" for w in b) for a, b in self.replaced.items())

    def words(self) -> set[str]:
        return {w for near in self.replaced.values() for w in near}


def correct(text: str, texts: Texts, most: int) -> Correction | None:
    """The query's unknown words with the nearest known ones, or None when there is nothing to correct.

    Every word at the nearest distance is kept ("baset" may be "base" or "basket"): the
    vocabulary also holds OCR's misreadings, so the nearest alone is often not the one meant.
    """
    if most <= 0:
        return None
    words = tokens(text)
    known = texts.known_words(words)
    replaced = {}
    for word in dict.fromkeys(words):
        edits = edits_for(word, most)
        if word in known or word.isdigit() or not edits:
            continue
        near = texts.near_words(word, edits)
        if near:
            replaced[word] = tuple(w for w, d in near if d == near[0][1])
    return Correction(replaced) if replaced else None


@dataclass(frozen=True)
class Snippet:
    """A piece of text a signal read that holds a query word, and where it is in the image."""

    signal: str
    text: str
    box: tuple[float, ...] | None

    def as_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "text": self.text, "box": list(self.box) if self.box else None}


def snippets(read: list[tuple[str, TextField]], words: set[str], limit: int = 3) -> tuple[Snippet, ...]:
    """The lines among ``read`` that hold one of ``words``, at most ``limit``."""
    found = [Snippet(s, f.text, f.box) for s, f in read if words & set(tokens(f.text))]
    return tuple(found[:limit])


def with_snippets(results: list[Any], texts: Texts, words: set[str]) -> list[Any]:
    """Results with the snippets of their read text that hold the query's words."""
    read = texts.of_many([r.image_id for r in results])
    return [replace(r, snippets=snippets(read.get(r.image_id, []), words)) for r in results]
