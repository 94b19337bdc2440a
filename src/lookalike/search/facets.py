"""Filters and facets over search results, on metadata the results already carry.

A filter names a field and the values it accepts.  A result passes a field when
any of its values (any occurrence's, for per-place fields) equals one of the
accepted values, ignoring case; it passes the filter when it passes every field.
Facets count, for each field, how many results carry each value among those that
pass the *other* fields, so choosing one tag still shows the counts of the rest.

Fields: ``source`` (the host of a URL, the archive, or the folder a file is in),
``tag``, ``format``, ``size`` (``small`` under 0.25 MP, ``medium`` under 2 MP,
``large``), and any other name is looked up in the occurrences' extra metadata
(``licence``, ``price``, ...).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePath
from urllib.parse import urlsplit

from lookalike.records import Occurrence
from lookalike.search.planner import Result

__all__ = [
    "FACETS",
    "SIZES",
    "Filters",
    "ValuesOf",
    "facet_counts",
    "matches",
    "size_bucket",
    "source_of",
    "values",
]

Filters = Mapping[str, Sequence[str]]

#: Fields counted on every faceted search, in the order pages show them.
FACETS = ("source", "tag", "format", "size")
#: Size buckets: name, upper bound in pixels (exclusive), label.
SIZES = (("small", 250_000, "< 0.25 MP"), ("medium", 2_000_000, "0.25–2 MP"), ("large", None, "≥ 2 MP"))


def source_of(place: Occurrence) -> str:
    """Where a place is: the host of a URL, the archive of a member, the folder of a file."""
    uri = place.uri
    if "://" in uri:
        scheme, _, _ = uri.partition("://")
        return (urlsplit(uri).hostname or scheme) if scheme in ("http", "https") else scheme
    if place.member is not None and place.file:
        return place.file
    return str(PurePath(place.file or uri).parent)


def size_bucket(width: int | None, height: int | None) -> str | None:
    """``small``, ``medium`` or ``large`` by pixel count; None when the size is unknown."""
    if not width or not height:
        return None
    pixels = width * height
    return next(name for name, bound, _ in SIZES if bound is None or pixels < bound)


def values(result: Result, field: str) -> set[str]:
    """The values a result has for a field (see the module docstring)."""
    image = result.image
    if field == "format":
        return {image.format} if image and image.format else set()
    if field == "size":
        bucket = size_bucket(image.width, image.height) if image else None
        return {bucket} if bucket else set()
    if field == "source":
        return {source_of(o) for o in result.occurrences}
    if field == "tag":
        return {tag for o in result.occurrences for tag in o.tags} | set(result.auto_tags)
    return {text for o in result.occurrences for text in _scalars(o.extra.get(field))}


def _scalars(value: object) -> Iterable[str]:
    if value is None or isinstance(value, dict):
        return ()
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None and not isinstance(v, dict | list)]
    return (str(value),)


#: A result's values for a field: :func:`values`, or a memo of it over many calls (browsing).
ValuesOf = Callable[[Result, str], set[str]]


def matches(result: Result, filters: Filters, value_of: ValuesOf = values) -> bool:
    """Whether a result passes every field of ``filters``."""
    for field, accepted in filters.items():
        wanted = {a.casefold() for a in accepted}
        if wanted and not any(v.casefold() in wanted for v in value_of(result, field)):
            return False
    return True


def facet_counts(
    groups: Sequence[Sequence[Result]],
    filters: Filters,
    fields: Sequence[str] = FACETS,
    value_of: ValuesOf = values,
) -> dict[str, list[tuple[str, int]]]:
    """For each field (and each filtered one), its values with counts, most common first.

    ``groups`` are results folded together as near-identical (one result each when
    nothing is folded); a group counts once for a value when any of its results
    that pass the other fields has it, so counts match the results a filter shows.
    """
    counts: dict[str, list[tuple[str, int]]] = {}
    for field in [*fields, *(f for f in filters if f not in fields)]:
        others = {f: v for f, v in filters.items() if f != field}
        counter: Counter[str] = Counter()
        for group in groups:
            found: set[str] = set()
            for result in group:
                if matches(result, others, value_of):
                    found |= value_of(result, field)
            counter.update(found)
        counts[field] = sorted(counter.items(), key=lambda item: (-item[1], item[0].casefold()))
    return counts
