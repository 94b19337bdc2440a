"""Browsing the collection without a query: every image, filtered, sorted and paged.

The filters and facets are the search page's (:mod:`lookalike.search.facets`: source, tag,
format, size and extra metadata), applied to the whole collection instead of a query's best
results.  Each content is listed once; near-identical images are not folded (that needs a
query).  Junk images (flagged by a flag signal) are left out unless asked for, as search
leaves them out.  Zero-shot tags are computed for shown results only, so they are not filterable here.

Sorts: ``added`` (when the content was first indexed), ``pixels`` (width times height),
``bytes`` (file size) and ``path`` (the first place it was seen, so a folder's files stay
together); ``-`` before a name sorts descending.  Images that lack the sorted value (no size
known) come last either way.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from lookalike.app import App
from lookalike.errors import ConfigError
from lookalike.records import ImageInfo
from lookalike.search.facets import Filters, facet_counts, matches, values
from lookalike.search.planner import Result
from lookalike.usecases.search import hidden

__all__ = ["DEFAULT_SORT", "SORTS", "Browsed", "Catalogue", "Catalogues", "browse", "junk"]

#: Sort names and how pages label them; ``-`` sorts descending.
SORTS: dict[str, str] = {
    "-added": "Newest first",
    "added": "Oldest first",
    "-pixels": "Largest (pixels)",
    "pixels": "Smallest (pixels)",
    "-bytes": "Largest file",
    "bytes": "Smallest file",
    "path": "Path A–Z",
    "-path": "Path Z–A",
}
DEFAULT_SORT = "-added"


@dataclass(frozen=True)
class Browsed:
    """A page of the collection: its images (as results with no score), how many passed, facets."""

    results: list[Result]
    total: int  # images that passed the filters
    offset: int
    k: int
    sort: str
    added: Mapping[int, float | None] = field(default_factory=dict)  # image id -> when first indexed
    facets: dict[str, list[tuple[str, int]]] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The page as JSON-ready data (what ``lookalike browse --json`` prints)."""
        found: dict[str, Any] = {
            "results": [self.entry(r) for r in self.results],
            "total": self.total,
            "offset": self.offset,
            "k": self.k,
            "sort": self.sort,
        }
        if self.facets is not None:
            found["facets"] = {f: [{"value": v, "count": n} for v, n in c] for f, c in self.facets.items()}
        return found

    def entry(self, result: Result) -> dict[str, Any]:
        """One listed image: id, facts, every place it was seen, when it was first indexed."""
        found = result.as_dict()
        return {
            "id": result.image_id,
            "image": found["image"],
            "occurrences": found["occurrences"],
            "added_at": self.added.get(result.image_id),
        }


class Catalogue:
    """Every usable image as a result with no score, read once; filters and sorts reuse it.

    It memoizes each image's facet values and sort keys, so a second page, sort or filter
    costs a pass over the images in memory, not a read of the catalog.
    """

    def __init__(self, app: App) -> None:
        entries = app.catalog.listing.entries()
        places = app.catalog.images.occurrences([info.id for info, _ in entries])
        self.version = app.catalog.listing.version()
        self.added: dict[int, float | None] = {info.id: at for info, at in entries}
        self.results = [_result(info, places) for info, _ in entries]
        self._values: dict[tuple[int, str], set[str]] = {}
        self._keys: dict[str, list[tuple[Any, int, Result]]] = {}
        self._lock = threading.Lock()

    def values(self, result: Result, field: str) -> set[str]:
        """:func:`lookalike.search.facets.values`, computed once per image and field."""
        memo = (result.image_id, field)
        found = self._values.get(memo)
        if found is None:
            found = self._values[memo] = values(result, field)
        return found

    def ordered(self, sort: str) -> list[Result]:
        """Every image in the order of ``sort``; those without the sorted value last."""
        with self._lock:
            keyed = self._keys.get(sort.lstrip("-"))
            if keyed is None:
                key = _sort_key(sort)
                every = [(key(r, self.added), r.image_id, r) for r in self.results]
                keyed = sorted((k for k in every if k[0] is not None), key=_first_two)
                keyed += [k for k in every if k[0] is None]
                self._keys[sort.lstrip("-")] = keyed
        known = [r for value, _, r in keyed if value is not None]
        return (known[::-1] if sort.startswith("-") else known) + [
            r for value, _, r in keyed if value is None
        ]

    def page(
        self,
        sort: str = DEFAULT_SORT,
        filters: Filters | None = None,
        offset: int = 0,
        k: int = 48,
        facets: bool = False,
        hide: AbstractSet[int] = frozenset(),
    ) -> Browsed:
        """A page of the collection, filtered and sorted, without the images in ``hide`` (junk)."""
        _sort_key(sort)  # refuse an unknown sort before any work
        ordered = [r for r in self.ordered(sort) if r.image_id not in hide] if hide else self.ordered(sort)
        passed = [r for r in ordered if matches(r, filters, self.values)] if filters else ordered
        shown = passed[offset : offset + k]
        counted = [[r] for r in self.results if r.image_id not in hide]
        counts = facet_counts(counted, filters or {}, value_of=self.values) if facets else None
        return Browsed(
            results=shown,
            total=len(passed),
            offset=offset,
            k=k,
            sort=sort,
            added={r.image_id: self.added[r.image_id] for r in shown},
            facets=counts,
        )


def browse(
    app: App,
    sort: str = DEFAULT_SORT,
    filters: Filters | None = None,
    offset: int = 0,
    k: int = 48,
    facets: bool = False,
    include_junk: bool = False,
) -> Browsed:
    """A page of the whole collection, filtered and sorted; see the module docstring.

    Images a flag signal flagged (junk) are left out unless ``include_junk``, as in search."""
    return Catalogue(app).page(sort, filters, offset, k, facets, junk(app, include_junk))


def junk(app: App, include_junk: bool) -> AbstractSet[int]:
    """The images a page leaves out: the flagged ones (read each time: a backfill may flag more)."""
    return frozenset() if include_junk else hidden(app)


class Catalogues:
    """A :class:`Catalogue` kept while the catalog does not change (the web service's)."""

    def __init__(self) -> None:
        self._held: Catalogue | None = None
        self._lock = threading.Lock()

    def get(self, app: App) -> Catalogue:
        """The held catalogue, read again when images or places were added, changed or removed."""
        with self._lock:
            if self._held is None or self._held.version != app.catalog.listing.version():
                self._held = Catalogue(app)
            return self._held


def _first_two(keyed: tuple[Any, int, Result]) -> tuple[Any, int]:
    return keyed[0], keyed[1]


def _result(info: ImageInfo, places: Mapping[int, list[Any]]) -> Result:
    return Result(image_id=info.id, score=0.0, why=(), image=info, occurrences=tuple(places.get(info.id, ())))


SortKey = Callable[[Result, Mapping[int, float | None]], Any]


def _pixels(r: Result, added: Mapping[int, float | None]) -> int | None:
    image = r.image
    return image.width * image.height if image and image.width and image.height else None


_DIGITS = re.compile(r"(\d+)")
_KEYS: dict[str, SortKey] = {
    "added": lambda r, added: added.get(r.image_id),
    "pixels": _pixels,
    "bytes": lambda r, added: r.image.bytes if r.image else None,
    "path": lambda r, added: _natural(r.occurrences[0].uri) if r.occurrences else None,
}


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that puts IMG_2.jpg before IMG_10.jpg (digit runs compare as numbers)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(text.casefold()) if part
    )


def _sort_key(sort: str) -> SortKey:
    if sort not in SORTS:
        raise ConfigError(f"unknown sort {sort!r}: one of {', '.join(SORTS)}")
    return _KEYS[sort.lstrip("-")]
