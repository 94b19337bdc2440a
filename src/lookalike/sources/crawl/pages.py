"""Web pages: the links and the metadata a crawl takes from one HTML page.

Pure: bytes and a URL in, values out; nothing here fetches.  Links are resolved
against the page (or its ``<base href>``), with HTML entities decoded once by the
parser and the URL otherwise kept as written (no re-encoding).  Links come from:

* ``<a href>`` (pages to walk, and images and archives named as such);
* images: ``<img>`` and ``<picture>`` with ``src``, ``srcset`` and the lazy-load
  attributes (``data-src``, ``data-srcset``, ``data-original``, ``data-lazy-src``).
  Of one image's candidates the largest is taken; the others are recorded with it as
  ``variants`` (the same image at other sizes), not fetched;
* CSS background images in ``style`` attributes, and images that schema.org items name;
* feeds the page announces (``<link rel=alternate type=application/rss+xml>``).

What the page says about its work is :mod:`.metadata` and :mod:`.schema`; what it says
about one image (its ``<figcaption>``, ``alt`` or ``title``, the schema.org item that
names it) is kept per image in :attr:`Page.images` and wins over the page's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from selectolax.parser import HTMLParser, Node

from lookalike.records import CrawlUrl
from lookalike.sources.crawl.metadata import About, absolute, clean, page_about
from lookalike.sources.crawl.schema import Work, works

__all__ = ["Link", "Page", "absolute", "check_selectors", "decode_html", "parse_page"]

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_SPACE = re.compile(r"\s+")
_FIELDS = frozenset({"title", "text", "tags"})
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", re.I)
_LAZY = ("data-src", "data-original", "data-lazy-src", "data-full", "data-large")
_FEEDS = ("rss", "atom", "feed")


@dataclass(frozen=True)
class Link:
    """A link found on a page; ``embedded`` when the page shows it as an image."""

    url: str
    embedded: bool = False


@dataclass(frozen=True)
class Page:
    """What one page says: its links, what it says about the work on it, and about each image."""

    url: str
    title: str | None = None
    text: str | None = None
    tags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # author, licence, price...
    links: tuple[Link, ...] = ()
    images: Mapping[str, About] = field(default_factory=dict)  # by link URL: what is said of that one
    places: Mapping[str, str] = field(default_factory=dict)  # by link URL: its own page (a sitemap's)

    def about(self, url: str) -> About:
        """What this page says of the file at ``url``: its own caption and item over the page's."""
        page = About(self.title, self.text, self.tags, self.extra)
        own = self.images.get(url)
        if own is None:
            return page
        merged = own.over(page)
        if own.text and self.text and self.text not in own.text:
            merged = replace(merged, text=f"{own.text} — {self.text}")
        return merged

    def file_entry(self, url: str, depth: int) -> CrawlUrl:
        """The frontier entry of a file linked from here: it carries what the page says of it."""
        about = self.about(url)
        metadata = {"text": about.text, "tags": list(about.tags), "extra": dict(about.extra)}
        page_url = self.places.get(url, self.url)
        return CrawlUrl(url, "file", depth, page_url=page_url, title=about.title, metadata=metadata)


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
    html = decode_html(data, content_type)
    tree = HTMLParser(html)
    base = url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = absolute(url, base_node.attributes.get("href")) or url
    schema, entries = works(html, tree, base)
    about = page_about(tree, base, _main(schema), _main(entries))
    images: dict[str, About] = {}
    links = list(_links(tree, base, images))
    for work in (*schema, *entries):
        for image in work.images:
            images[image] = work.about.over(images.get(image, About()))
            links.append(Link(image, embedded=True))
    chosen = dict(selectors or {})
    page = Page(
        url=url,
        title=about.title,
        text=about.text,
        tags=about.tags,
        extra={key: value for key, value in about.extra.items() if key not in chosen},
        links=tuple(dict.fromkeys(links)),
        images=images,
    )
    return _with_selected(page, tree, base, chosen) if chosen else page


def _main(found: list[Work]) -> About | None:
    """The page's own work: its only outermost item, else the first outermost one that names no
    image (the others each belong to their images)."""
    outer = [w for w in found if not w.nested]
    if len(outer) == 1:
        return outer[0].about
    return next((w.about for w in outer if not w.images), None)


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


def _links(tree: HTMLParser, base: str, images: dict[str, About]) -> Iterator[Link]:
    """The page's links in page order; what each image's markup says of it goes to ``images``."""
    root = tree.root
    for node in root.traverse() if root is not None else ():
        if node.tag == "a" and "href" in node.attributes:
            yield from _anchor(node, base, images)
        elif node.tag == "link" and "alternate" in (node.attributes.get("rel") or "").lower().split():
            kind = (node.attributes.get("type") or "").lower()
            if any(word in kind for word in _FEEDS) and (url := absolute(base, node.attributes.get("href"))):
                yield Link(url)
        elif node.tag == "picture" or (node.tag == "img" and not _in_picture(node)):
            yield from _image(node, base, images)
        if style := node.attributes.get("style"):
            for match in _CSS_URL.finditer(style):
                if url := absolute(base, match.group(2)):
                    yield Link(url, embedded=True)


def _anchor(node: Node, base: str, images: dict[str, About]) -> Iterator[Link]:
    url = absolute(base, node.attributes.get("href"))
    if not url:
        return
    shown = node.css_first("img")
    if shown is not None and url not in images:  # a thumbnail linking to its full size: the same work
        own = _image_about(shown)
        if own.filled():
            images[url] = own
    yield Link(url)


def _image(node: Node, base: str, images: dict[str, About]) -> Iterator[Link]:
    """The largest candidate of an ``<img>`` or a ``<picture>``; the others become its variants."""
    img = node if node.tag == "img" else node.css_first("img")
    sources = node.css("source") if node.tag == "picture" else []
    candidates = [c for s in sources for c in _candidates(s, base)]
    if img is not None:
        candidates += _candidates(img, base)
    if not candidates:
        return
    best = _largest(candidates)
    others = [url for url, _ in candidates if url != best]
    own = _image_about(img) if img is not None else About()
    if others:
        own = replace(own, extra={**own.extra, "variants": list(dict.fromkeys(others))})
    if own.filled():
        images[best] = own.over(images.get(best, About()))
    yield Link(best, embedded=True)


def _candidates(node: Node, base: str) -> list[tuple[str, tuple[int, float]]]:
    """(url, size) of the element's image sources; the ``src`` (a 1x candidate) only where there
    is no lazy-load attribute (then it is a placeholder)."""
    attrs = node.attributes
    found: list[tuple[str | None, tuple[int, float]]] = []
    for name in ("data-srcset", "srcset"):
        found += _srcset(attrs.get(name))
    found += [(attrs.get(name), (0, 1.0)) for name in _LAZY if attrs.get(name)]
    if not attrs.get("data-srcset") and not any(attrs.get(name) for name in _LAZY):
        found.append((attrs.get("src"), (0, 1.0)))
    return [(url, size) for href, size in found if (url := absolute(base, href))]


def _srcset(value: str | None) -> list[tuple[str | None, tuple[int, float]]]:
    """The candidates of a ``srcset``: (url, (width, density)), read as the HTML standard says (a URL
    runs to white space; a comma right after it ends a candidate with no descriptor)."""
    found: list[tuple[str | None, tuple[int, float]]] = []
    text, at = value or "", 0
    while True:
        while at < len(text) and (text[at].isspace() or text[at] == ","):
            at += 1
        if at >= len(text):
            return found
        end = at
        while end < len(text) and not text[end].isspace():
            end += 1
        url, at, descriptor = text[at:end], end, ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            comma = text.find(",", at)
            comma = len(text) if comma < 0 else comma
            descriptor, at = text[at:comma].strip(), comma + 1
        found.append((url, _size(descriptor.split()[0] if descriptor else "")))


def _size(descriptor: str) -> tuple[int, float]:
    try:
        if descriptor.endswith("w"):
            return int(descriptor[:-1]), 0.0
        if descriptor.endswith("x"):
            return 0, float(descriptor[:-1])
    except ValueError:
        pass
    return 0, 1.0


def _largest(candidates: list[tuple[str, tuple[int, float]]]) -> str:
    """The URL of the largest candidate; the first of equals (the order a browser prefers)."""
    best = candidates[0]
    for candidate in candidates[1:]:
        if candidate[1] > best[1]:
            best = candidate
    return best[0]


def _image_about(img: Node) -> About:
    """What an image's own markup says: its figure's caption, else its title or alt text."""
    attrs = img.attributes
    caption = None
    parent = img.parent
    while parent is not None and parent.tag not in ("figure", "body", "html"):
        parent = parent.parent
    if parent is not None and parent.tag == "figure":
        caption = clean(_text(parent.css_first("figcaption")))
    alt, title = clean(attrs.get("alt")), clean(attrs.get("title"))
    extra = {k: v for k, v in (("caption", caption), ("alt", alt)) if v}
    return About(text=caption or title or alt, extra=extra)


def _in_picture(node: Node) -> bool:
    parent = node.parent
    return parent is not None and parent.tag == "picture"


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
