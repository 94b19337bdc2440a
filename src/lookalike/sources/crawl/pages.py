"""Web pages: the links and the metadata a crawl takes from one HTML page.

Pure: bytes and a URL in, values out; nothing here fetches.  Links come from
``a[href]``, ``img[src]`` and ``srcset``, resolved against the page (or its
``<base href>``), with HTML entities decoded once by the parser and the URL
otherwise kept as written (no re-encoding).  Metadata comes from common markup:
the title (``og:title`` or ``<title>``), a description (``og:description`` or
``meta[name=description]``), tags (``a[rel~=tag]``, ``meta[property=article:tag]``),
the author (``meta[name=author]``, ``a[rel~=author]``) and the licence
(``a[rel~=license]``, ``link[rel~=license]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urldefrag, urljoin

from selectolax.parser import HTMLParser, Node

__all__ = ["Link", "Page", "absolute", "check_selectors", "decode_html", "parse_page"]

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_SPACE = re.compile(r"\s+")
_FIELDS = frozenset({"title", "text", "tags"})


@dataclass(frozen=True)
class Link:
    """A link found on a page; ``embedded`` when the page shows it as an image."""

    url: str
    embedded: bool = False


@dataclass(frozen=True)
class Page:
    """What one page says: its links and what it says about the work on it."""

    url: str
    title: str | None = None
    text: str | None = None
    tags: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)  # author, licence
    links: tuple[Link, ...] = ()


def parse_page(
    data: bytes, url: str, content_type: str | None = None, selectors: Mapping[str, str] | None = None
) -> Page:
    """Parse an HTML page fetched from ``url``.

    ``selectors`` maps a name to a CSS selector that replaces the default markup:
    ``title``, ``text`` and ``tags`` fill those fields, any other name (``author``,
    ``licence``, ``price``, ...) an extra field.  A match gives its ``content``
    attribute (meta), for ``licence`` its ``href``, else its text; ``tags`` takes
    every match, the others the first.
    """
    tree = HTMLParser(decode_html(data, content_type))
    base = url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = absolute(url, base_node.attributes.get("href")) or url
    chosen = dict(selectors or {})
    defaults = (("author", _author(tree)), ("licence", _licence(tree, base)))
    page = Page(
        url=url,
        title=_meta(tree, 'meta[property="og:title"]') or _text(tree.css_first("title")),
        text=_meta(tree, 'meta[property="og:description"]') or _meta(tree, 'meta[name="description"]'),
        tags=_tags(tree),
        extra={key: value for key, value in defaults if value and key not in chosen},
        links=tuple(dict.fromkeys(_links(tree, base))),
    )
    return _with_selected(page, tree, base, chosen) if chosen else page


def check_selectors(selectors: Mapping[str, str]) -> None:
    """Raise ValueError naming the first selector that is not valid CSS."""
    tree = HTMLParser("<p></p>")
    for name, selector in selectors.items():
        try:
            tree.css(selector)
        except ValueError:
            raise ValueError(f"selector {name!r} is not valid CSS: {selector!r}") from None


def _with_selected(page: Page, tree: HTMLParser, base: str, selectors: Mapping[str, str]) -> Page:
    found = {name: _selected(tree, name, selector, base) for name, selector in selectors.items()}
    extra = dict(page.extra)
    extra.update({name: values[0] for name, values in found.items() if values and name not in _FIELDS})
    return replace(
        page,
        title=found["title"][0] if found.get("title") else page.title,
        text=found["text"][0] if found.get("text") else page.text,
        tags=tuple(dict.fromkeys(found["tags"])) if "tags" in found else page.tags,
        extra=extra,
    )


def _selected(tree: HTMLParser, name: str, selector: str, base: str) -> list[str]:
    values = []
    for node in tree.css(selector):
        attrs = node.attributes
        value = attrs.get("content")
        if not value and name == "licence":
            value = absolute(base, attrs.get("href"))
        value = value or _text(node)
        if value and value.strip():
            values.append(_SPACE.sub(" ", value).strip())
    return values


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Text of a page: the charset the server names, else the page's own ``<meta charset>``, else UTF-8."""
    for found in (_header_charset(content_type), _meta_charset(data[:2048])):
        if found:
            try:
                return data.decode(found, errors="replace")
            except LookupError:  # an unknown charset name
                continue
    return data.decode("utf-8", errors="replace")


def absolute(base: str, href: str | None) -> str | None:
    """``href`` resolved against ``base``, without its fragment; None unless http(s)."""
    if not href or not href.strip():
        return None
    try:
        resolved = urldefrag(urljoin(base, href.strip())).url
    except ValueError:  # e.g. a bad IPv6 literal
        return None
    return resolved if resolved.startswith(("http://", "https://")) else None


def _links(tree: HTMLParser, base: str) -> Iterator[Link]:
    for node in tree.css("a[href]"):
        url = absolute(base, node.attributes.get("href"))
        if url:
            yield Link(url)
    for node in tree.css("img[src], img[srcset], source[srcset]"):
        candidates = [node.attributes.get("src")]
        candidates += [c.split()[0] for c in (node.attributes.get("srcset") or "").split(",") if c.strip()]
        for href in candidates:
            url = absolute(base, href)
            if url:
                yield Link(url, embedded=True)


def _tags(tree: HTMLParser) -> tuple[str, ...]:
    found = [_text(node) for node in tree.css("a[rel~=tag]")]
    found += [node.attributes.get("content") for node in tree.css('meta[property="article:tag"]')]
    return tuple(dict.fromkeys(t.strip() for t in found if t and t.strip()))


def _author(tree: HTMLParser) -> str | None:
    return _meta(tree, 'meta[name="author"]') or _text(tree.css_first("a[rel~=author]"))


def _licence(tree: HTMLParser, base: str) -> str | None:
    node = tree.css_first("a[rel~=license][href], link[rel~=license][href]")
    return absolute(base, node.attributes.get("href")) if node is not None else None


def _meta(tree: HTMLParser, selector: str) -> str | None:
    node = tree.css_first(selector)
    content = node.attributes.get("content") if node is not None else None
    return _SPACE.sub(" ", content).strip() or None if content else None


def _text(node: Node | None) -> str | None:
    if node is None:
        return None
    return _SPACE.sub(" ", node.text()).strip() or None


def _header_charset(content_type: str | None) -> str | None:
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type or "", re.I)
    return match.group(1) if match else None


def _meta_charset(head: bytes) -> str | None:
    match = _CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None
