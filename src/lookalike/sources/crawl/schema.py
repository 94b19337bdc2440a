"""Structured data in a page: schema.org items (JSON-LD, microdata) and microformats (``h-entry``).

Read with extruct (the ``crawl`` extra) where it is installed; without it, JSON-LD is
still read with the standard library and microdata and microformats are left out.
Each item becomes a :class:`Work`: what it says (an :class:`~.metadata.About`) and the
images it names, so a gallery page of several works gives each image its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from selectolax.parser import HTMLParser

from lookalike.sources.crawl.metadata import About, absolute, clean, split_tags

__all__ = ["Work", "extruct_available", "works"]

log = logging.getLogger(__name__)

# kinds that hold works (walked into) and kinds that are parts of a work, never a work
_CONTAINERS = {
    "webpage",
    "collectionpage",
    "itempage",
    "itemlist",
    "imagegallery",
    "mediagallery",
    "website",
    "searchresultspage",
    "profilepage",
    "listitem",
    "h-feed",
}
_NOT_WORKS = {
    "person",
    "organization",
    "offer",
    "aggregateoffer",
    "brand",
    "breadcrumblist",
    "searchaction",
    "rating",
    "aggregaterating",
    "propertyvalue",
    "contactpoint",
    "postaladdress",
    "place",
    "review",
    "h-card",
    "definedterm",
    "quantitativevalue",
    "pricespecification",
    "unitpricespecification",
    "monetaryamount",
    "readaction",
    "entrypoint",
    "thing",
}
_IMAGE_KINDS = {"imageobject", "photograph", "mediaobject", "barcode"}
_NESTED = (
    "mainEntity",
    "mainEntityOfPage",
    "itemListElement",
    "item",
    "hasPart",
    "@graph",
    "associatedMedia",
    "image",
    "children",
    "workExample",
    "subjectOf",
)


@dataclass(frozen=True)
class Work:
    """One structured item: what it says and the URLs of the images it names."""

    about: About
    images: tuple[str, ...] = ()
    nested: bool = False  # inside another work (an ImageObject of a VisualArtwork)


def extruct_available() -> bool:
    try:
        import extruct  # noqa: F401
    except ImportError:
        return False
    return True


def works(html: str, tree: HTMLParser, base: str) -> tuple[list[Work], list[Work]]:
    """The page's schema.org works and its microformat entries, in page order."""
    raw_schema, raw_entries = _extract(html, tree, base)
    schema = [w for item in raw_schema for w in _walk(item, base, None)]
    entries = [w for item in raw_entries for w in _walk(item, base, None, microformat=True)]
    return schema, entries


def _extract(html: str, tree: HTMLParser, base: str) -> tuple[list[Any], list[Any]]:
    has_ld = tree.css_first('script[type="application/ld+json"]') is not None
    has_micro = "itemscope" in html
    has_mf = "h-entry" in html or "h-product" in html or "h-feed" in html
    if not (has_ld or has_micro or has_mf):
        return [], []
    try:
        import extruct
    except ImportError:
        return _json_ld(tree), []
    syntaxes = [
        name
        for name, there in (("json-ld", has_ld), ("microdata", has_micro), ("microformat", has_mf))
        if there
    ]
    try:
        found = extruct.extract(html, base_url=base, syntaxes=syntaxes, uniform=True, errors="ignore")
    except Exception as exc:  # extruct raises what its parsers raise; the page's other markup still counts
        log.debug("structured data of %s not read: %s", base, exc)
        return _json_ld(tree), []
    return [*found.get("json-ld", []), *found.get("microdata", [])], list(found.get("microformat", []))


def _json_ld(tree: HTMLParser) -> list[Any]:
    found = []
    for node in tree.css('script[type="application/ld+json"]'):
        try:
            found.append(json.loads(node.text()))
        except ValueError:
            continue
    return found


def _walk(item: Any, base: str, parent: About | None, microformat: bool = False) -> Iterator[Work]:
    """The works in ``item`` and the items nested in it, each over what its parent work says."""
    if isinstance(item, list):
        for part in item:
            yield from _walk(part, base, parent, microformat)
        return
    if not isinstance(item, Mapping):
        return
    kinds = _kinds(item)
    if kinds & _NOT_WORKS:
        return
    here = parent
    if kinds and not kinds & _CONTAINERS:
        about = _entry_about(item) if microformat else _schema_about(item)
        about = about.over(parent) if parent is not None else about
        images = _entry_images(item, base) if microformat else _schema_images(item, kinds, base)
        yield Work(about, images, nested=parent is not None)
        here = about
    for key in _NESTED:
        if key in item and not isinstance(item[key], str):
            yield from _walk(item[key], base, here, microformat)


def _kinds(item: Mapping[str, Any]) -> set[str]:
    kind = item.get("@type") or item.get("type")
    names = kind if isinstance(kind, list) else [kind]
    return {str(n).rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower() for n in names if n}


def _schema_about(item: Mapping[str, Any]) -> About:
    tags = [t for key in ("keywords", "genre", "category", "articleSection") for t in _words(item.get(key))]
    extra = {
        "author": _names(item, "author", "creator", "artist", "illustrator", "photographer"),
        "licence": _licence(item.get("license") or item.get("usageInfo")),
        "copyright": _names(item, "copyrightNotice", "copyrightHolder", "creditText"),
        **_price(item.get("offers")),
    }
    return About(
        title=_text(item.get("name") or item.get("headline") or item.get("alternateName")),
        text=_text(item.get("description") or item.get("caption") or item.get("abstract")),
        tags=tuple(dict.fromkeys(tags)),
        extra={k: v for k, v in extra.items() if v},
    )


def _schema_images(item: Mapping[str, Any], kinds: set[str], base: str) -> tuple[str, ...]:
    found = [*_urls(item.get("contentUrl"), base)]
    if kinds & _IMAGE_KINDS and not found:
        found += _urls(item.get("url"), base)
    found += _urls(item.get("image"), base)
    return tuple(dict.fromkeys(found))


def _urls(value: Any, base: str) -> Iterator[str]:
    """Image URLs in a schema.org ``image``/``contentUrl`` value: text, a list, or an ImageObject."""
    if isinstance(value, list):
        for part in value:
            yield from _urls(part, base)
    elif isinstance(value, Mapping):
        yield from _urls(value.get("contentUrl") or value.get("url") or value.get("@id"), base)
    elif isinstance(value, str) and (url := absolute(base, value)):
        yield url


def _entry_about(item: Mapping[str, Any]) -> About:
    """An ``h-entry`` (or ``h-product``): mf2 properties are lists."""

    def first(key: str) -> Any:
        values = item.get(key) or []
        return values[0] if isinstance(values, list) and values else values or None

    content = first("content")
    author = first("author")
    extra = {
        "author": _text(
            author.get("name", [None])[0]
            if isinstance(author, Mapping) and author.get("name")
            else (author.get("value") if isinstance(author, Mapping) else author)
        ),
        "price": _text(first("price")),
    }
    return About(
        title=_text(first("name")),
        text=_text(first("summary") or (content.get("value") if isinstance(content, Mapping) else content)),
        tags=tuple(dict.fromkeys(t for c in item.get("category") or [] for t in _words(c))),
        extra={k: v for k, v in extra.items() if v},
    )


def _entry_images(item: Mapping[str, Any], base: str) -> tuple[str, ...]:
    found = []
    for key in ("photo", "featured"):
        for value in item.get(key) or []:
            href = value.get("value") if isinstance(value, Mapping) else value
            if url := absolute(base, href if isinstance(href, str) else None):
                found.append(url)
    return tuple(dict.fromkeys(found))


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str | Mapping)), None)
    if isinstance(value, Mapping):
        value = value.get("@value") or value.get("name") or value.get("value")
    return clean(value)


def _names(item: Mapping[str, Any], *keys: str) -> str | None:
    """The names of the people or bodies under the first of ``keys`` that has any, joined."""
    for key in keys:
        value = item.get(key)
        parts = value if isinstance(value, list) else [value]
        names = [n for n in (_text(p) for p in parts) if n]
        if names:
            return ", ".join(dict.fromkeys(names))
    return None


def _licence(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, Mapping):
        value = value.get("url") or value.get("@id") or value.get("name")
    return clean(value)


def _words(value: Any) -> list[str]:
    if isinstance(value, list):
        return [w for part in value for w in _words(part)]
    if isinstance(value, Mapping):
        return _words(value.get("name") or value.get("termCode"))
    if isinstance(value, str):
        return split_tags(value.replace(">", ","))
    return []


def _price(offers: Any) -> dict[str, str]:
    """price and currency of the first offer (a list, an Offer, an AggregateOffer, a price specification)."""
    if isinstance(offers, list):
        offers = offers[0] if offers else None
    if not isinstance(offers, Mapping):
        return {}
    spec = offers.get("priceSpecification")
    spec = spec[0] if isinstance(spec, list) and spec else spec
    price = (
        offers.get("price")
        or offers.get("lowPrice")
        or (spec.get("price") if isinstance(spec, Mapping) else None)
    )
    currency = offers.get("priceCurrency") or (
        spec.get("priceCurrency") if isinstance(spec, Mapping) else None
    )
    found = {"price": clean(str(price)) if price is not None else None, "currency": clean(currency)}
    return {k: v for k, v in found.items() if v}
