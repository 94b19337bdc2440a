"""Words in a query: matching that tolerates OCR's errors, and the snippets a result shows.

OCR misreads characters ("dragom" for "dragon"), and people mistype.  Every word a text
signal reads goes into a vocabulary (``text_word``); a query word that is not in it is
replaced by the nearest vocabulary words (any of them) within ``search.fuzzy`` edits (optimal string
alignment: a swap of two letters is one edit), never more than its length allows (none
for words of up to 3 letters, one up to 6, two from 7).  The corrected query is searched
as well, and its hits rank below exact ones (:data:`FUZZY_WEIGHT`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lookalike.catalog.texts import WORD, Texts
from lookalike.records import Occurrence, TextField

__all__ = [
    "FUZZY_WEIGHT",
    "Correction",
    "Snippet",
    "WordHit",
    "correct",
    "edits_for",
    "fold",
    "snippets",
    "tokens",
    "word_hits",
]

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
    """The lines among ``read`` that hold one of ``words``, at most ``limit``; a classifier's tags
    (fields ``tag`` and ``synonym``) are shown as tags, not quoted as read lines."""
    found = [
        Snippet(s, f.text, f.box)
        for s, f in read
        if f.field not in TAG_FIELDS and words & set(tokens(f.text))
    ]
    return tuple(found[:limit])


#: Fields of a tagger's text (see lookalike.signals.classes): words for the picture, not lines in it.
TAG_FIELDS = frozenset({"tag", "synonym"})

#: A word as the keyword indexes cut text: letters and digits (``_`` and punctuation split words).
TERM = re.compile(r"[^\W_]+")


def fold(word: str) -> str:
    """A word as the keyword indexes compare it: lower case, without diacritics (FTS5's
    ``remove_diacritics``), so the page finds the word the engine matched."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


@dataclass(frozen=True)
class WordHit:
    """Query words found in one field of a result: ``title``, ``tags``, ``text`` (a place's
    description), ``path`` (its file name, path or URLs), or the text signal that read them
    (``ocr``).  ``found``: the words as they are in the field, where a typo was corrected."""

    field: str
    words: tuple[str, ...]
    found: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "words": list(self.words), "found": list(self.found)}


def word_hits(
    places: Sequence[Occurrence], read: Sequence[tuple[str, TextField]], asked: Mapping[str, Iterable[str]]
) -> tuple[WordHit, ...]:
    """Which of the ``asked`` words (a query word -> the forms it may take) each field holds."""
    forms = {fold(form): word for word, alternatives in asked.items() for form in alternatives}
    fields: dict[str, set[str]] = {}
    for o in places:
        for name, value in (("title", o.title), ("tags", " ".join(o.tags)), ("text", o.text)):
            fields.setdefault(name, set()).update(_terms(value))
        fields.setdefault("path", set()).update(_terms(" ".join(filter(None, (o.uri, o.url, o.page_url)))))
    for signal, line in read:
        fields.setdefault(signal, set()).update(_terms(line.text))
    hits = []
    for name, terms in fields.items():
        found = sorted(t for t in terms if t in forms)
        if found:
            hits.append(WordHit(name, tuple(dict.fromkeys(forms[t] for t in found)), tuple(found)))
    return tuple(hits)


def _terms(text: str | None) -> set[str]:
    return {fold(t) for t in TERM.findall(text or "")}


def asked_words(text: str, corrected: Correction | None) -> dict[str, set[str]]:
    """Each query word (lower case) with the forms it may be found in: itself and its corrections."""
    extra = corrected.replaced if corrected else {}
    return {w: {w, *extra.get(w, ())} for w in dict.fromkeys(t.lower() for t in TERM.findall(text))}


def with_snippets(results: list[Any], texts: Texts, text: str, corrected: Correction | None) -> list[Any]:
    """Results with the snippets of their read text that hold the query's words, and which
    of the words each of their fields holds."""
    read = texts.of_many([r.image_id for r in results])
    asked = asked_words(text, corrected)
    lines = set(tokens(text)) | (corrected.words() if corrected else set())
    return [
        replace(
            r,
            snippets=snippets(read.get(r.image_id, []), lines),
            words=word_hits(r.occurrences, read.get(r.image_id, []), asked),
        )
        for r in results
    ]


def stored_tags(
    texts: Texts,
    taggers: Collection[str],
    image_ids: Sequence[int],
    also: Mapping[int, Sequence[str]] | None = None,
) -> dict[int, tuple[str, ...]]:
    """Each image's tags: the ``tag`` fields the ``taggers`` (text signals with the TAGS
    capability: a classifier) stored, most confident first, then ``also`` (zero-shot tags)."""
    found: dict[int, tuple[str, ...]] = {}
    read = texts.of_many(list(image_ids)) if taggers else {}
    for i in image_ids:
        words = sorted(
            (f for signal, f in read.get(i, []) if signal in taggers and f.field == "tag"),
            key=lambda f: -f.confidence,
        )
        found[i] = tuple(dict.fromkeys([*(f.text for f in words), *((also or {}).get(i, ()))]))
    return found
