"""What a person should know about a list of results beyond the results: short notes in words.

The CLI prints them on stderr, the REST API returns them as ``notes`` and the page shows them
above the results, so the three say the same:

- an image query whose shown results hold no look-alike says so plainly, and, when no content
  signal (a model's embedding) is on, that only copies and crops can be found;
- an image query in a collection where crop search is off or partial says so and how to turn it
  on (``crops``, from :func:`lookalike.usecases.crops.crop_search`);
- a query of several words says how the words combine: keyword search wants every word in one
  place (a title, the tags, a path, a text), and only when no image holds them all may any word
  match (see ``keyword_search`` of both catalogs).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from lookalike.search.tiers import Tier, worth_showing
from lookalike.search.words import TERM, fold

__all__ = ["ALL_WORDS", "NO_CONTENT_MODEL", "NO_LOOKALIKES", "notes", "partial_matches"]

NO_LOOKALIKES = "No look-alikes"
NO_CONTENT_MODEL = (
    "only copies are searched: install a content model to find look-alikes (see docs/models.md)"
)
ALL_WORDS = "all words must match, in one place (a title, the tags, a path or a text)"


def notes(
    results: Sequence[Any],
    *,
    text: str | None,
    by_image: bool,
    content: Collection[str],
    crops: str | None = None,
) -> list[str]:
    """Notes on ``results`` (best first) of a query with ``text`` and/or an image; ``content``:
    the content signals that are on; ``crops``: what crop search lacks in the collection, if anything."""
    found: list[str] = []
    if by_image and not (text or "").strip():
        shown, _ = worth_showing(results, content)
        if not any(r.match is not None and r.match.tier == Tier.SIMILAR for r in shown):
            found.append(NO_LOOKALIKES)
        if not content:
            found.append(NO_CONTENT_MODEL)
    if by_image and crops:
        found.append(crops)
    if text and len(_words(text)) > 1:
        partial = partial_matches(results, text)
        found.append(
            f"no image holds all the words in one place, so any of them may match: "
            f"{partial} of these results hold only some of them"
            if partial
            else ALL_WORDS
        )
    return found


def partial_matches(results: Sequence[Any], text: str) -> int:
    """How many of ``results`` hold some of the words of ``text`` but not all of them."""
    asked = _words(text)
    count = 0
    for r in results:
        held = {fold(w) for hit in r.words for w in hit.words}
        count += bool(held) and not asked <= held
    return count


def _words(text: str) -> set[str]:
    return {fold(t) for t in TERM.findall(text)}
