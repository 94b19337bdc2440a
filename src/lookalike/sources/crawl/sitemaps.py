"""Sitemaps and feeds: the pages and images a site lists in XML, read as a :class:`~.pages.Page`.

Pure: bytes and a URL in, values out.  The crawler fetches these documents like pages
(the same fetcher, scope, robots.txt and pace); this reads them.  XML is parsed with
defusedxml (no entities, no external references), gzip is unpacked to at most
:data:`MAX_XML` bytes.

* a sitemap index (``<sitemapindex>``): its sitemaps are links to walk;
* a sitemap (``<urlset>``): its pages are links to walk; its images
  (``<image:image>``: ``loc``, ``title``, ``caption``, ``license``) are files whose
  page is the ``<url><loc>`` they are listed under;
* an RSS or Atom feed: each item's link is a page to walk; its images
  (``<enclosure>``, ``<media:content>``, ``<link rel=enclosure>``, ``<img>`` in its
  HTML) are files that carry its title, summary, categories, author and rights.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException
from selectolax.parser import HTMLParser

from lookalike.sources.crawl.metadata import About, absolute, clean, split_tags
from lookalike.sources.crawl.pages import Link, Page

__all__ = ["MAX_XML", "looks_like_xml", "parse_xml"]

#: Most bytes of XML read from one document once unpacked (the sitemap protocol's own limit).
MAX_XML = 50 * 1024 * 1024
_ROOTS = {"urlset", "sitemapindex", "rss", "feed", "rdf"}


def looks_like_xml(data: bytes, content_type: str | None) -> bool:
    """Whether a fetched document is XML (a sitemap or a feed may be), gzipped or not."""
    kind = (content_type or "").lower()
    if "html" in kind:
        return False
    if "xml" in kind or data[:2] == b"\x1f\x8b":
        return True
    head = data[:512].lstrip().lower()
    return head.startswith(b"<?xml") or any(head.startswith(b"<" + r.encode()) for r in _ROOTS)


def parse_xml(data: bytes, url: str) -> Page | None:
    """The links a sitemap, sitemap index or feed at ``url`` lists; None when it is none of them."""
    text = _unpacked(data)
    if text is None:
        return None
    try:
        root = SafeTree.fromstring(text)
    except (SafeTree.ParseError, DefusedXmlException, ValueError):
        return None
    kind = _local(root.tag)
    if kind == "sitemapindex":
        links = [Link(u) for u in _all(root, "sitemap", "loc") if u]
        return Page(url, links=tuple(dict.fromkeys(_resolved(url, links))))
    if kind == "urlset":
        return _sitemap(root, url)
    if kind in ("rss", "rdf"):
        return _feed(url, _items(root, "item"))
    if kind == "feed":
        return _feed(url, _items(root, "entry"))
    return None


def _unpacked(data: bytes) -> bytes | None:
    if data[:2] != b"\x1f\x8b":
        return data[:MAX_XML]
    try:
        out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, MAX_XML)
    except zlib.error:
        return None
    return out


def _sitemap(root: Element, url: str) -> Page:
    links: list[Link] = []
    images: dict[str, About] = {}
    places: dict[str, str] = {}
    for entry in _children(root, "url"):
        page = absolute(url, _child_text(entry, "loc"))
        if page:
            links.append(Link(page))
        for image in _children(entry, "image"):
            src = absolute(url, _child_text(image, "loc"))
            if not src:
                continue
            licence = _child_text(image, "license")
            images[src] = About(
                title=_child_text(image, "title"),
                text=_child_text(image, "caption"),
                extra={"licence": absolute(url, licence) or licence} if licence else {},
            )
            links.append(Link(src, embedded=True))
            if page:
                places[src] = page
    return Page(url, links=tuple(dict.fromkeys(links)), images=images, places=places)


def _feed(url: str, items: Iterator[tuple[str | None, About, list[str]]]) -> Page:
    links: list[Link] = []
    images: dict[str, About] = {}
    places: dict[str, str] = {}
    for page, about, sources in items:
        page = absolute(url, page)
        if page:
            links.append(Link(page))
        for source in sources:
            src = absolute(page or url, source)
            if src:
                images[src] = about
                links.append(Link(src, embedded=True))
                if page:
                    places[src] = page
    return Page(url, links=tuple(dict.fromkeys(links)), images=images, places=places)


def _items(root: Element, name: str) -> Iterator[tuple[str | None, About, list[str]]]:
    """(link, what it says, image URLs) of each RSS ``item`` or Atom ``entry``."""
    for item in root.iter():
        if _local(item.tag) != name:
            continue
        body = _child_text(item, "content") or _child_text(item, "encoded") or ""
        summary = _child_text(item, "description") or _child_text(item, "summary") or ""
        tags = [t for c in _children(item, "category") for t in split_tags(c.get("term") or c.text)]
        tags += [t for c in _children(item, "keywords") for t in split_tags(c.text)]
        author = _child_text(item, "creator") or _child_text(item, "credit") or _author(item)
        licence = _child_text(item, "rights") or _child_text(item, "license") or _link(item, "license")
        extra = {k: v for k, v in (("author", author), ("licence", licence)) if v}
        about = About(_child_text(item, "title"), _plain(summary or body), tuple(dict.fromkeys(tags)), extra)
        yield _item_link(item), about, [*_media(item), *_html_images(summary + body)]


def _item_link(item: Element) -> str | None:
    for child in _children(item, "link"):
        if child.get("href") and child.get("rel", "alternate") == "alternate":
            return child.get("href")
        if clean(child.text):
            return clean(child.text)
    guid = _first(item, "guid")
    return clean(guid.text) if guid is not None and guid.get("isPermaLink", "true") != "false" else None


def _media(item: Element) -> Iterator[str]:
    for child in item.iter():
        kind = (child.get("type") or "").lower()
        tag = _local(child.tag)
        if tag == "enclosure" and kind.startswith("image/"):
            yield child.get("url") or ""
        elif tag == "link" and child.get("rel") == "enclosure" and kind.startswith("image/"):
            yield child.get("href") or ""
        elif (
            tag == "content"
            and child.get("url")
            and (child.get("medium") == "image" or kind.startswith("image/"))
        ):
            yield child.get("url") or ""


def _html_images(html: str) -> Iterator[str]:
    if "<img" not in html:
        return
    for node in HTMLParser(html).css("img[src]"):
        yield node.attributes.get("src") or ""


def _author(item: Element) -> str | None:
    for child in _children(item, "author"):
        name = _child_text(child, "name") or clean(child.text)
        if name:
            return name
    return None


def _link(item: Element, rel: str) -> str | None:
    return next((c.get("href") for c in _children(item, "link") if c.get("rel") == rel), None)


def _plain(html: str) -> str | None:
    """The text of an item's summary, which feeds often write as HTML."""
    if "<" not in html:
        return clean(html)
    tree = HTMLParser(html)
    return clean(tree.root.text(separator=" ")) if tree.root is not None else None


def _resolved(base: str, links: list[Link]) -> Iterator[Link]:
    for link in links:
        if url := absolute(base, link.url):
            yield Link(url, link.embedded)


def _all(root: Element, parent: str, child: str) -> Iterator[str | None]:
    for node in _children(root, parent):
        yield _child_text(node, child)


def _children(node: Element, name: str) -> Iterator[Element]:
    return (c for c in node if _local(c.tag) == name)


def _first(node: Element, name: str) -> Element | None:
    return next(_children(node, name), None)


def _child_text(node: Element, name: str) -> str | None:
    child = _first(node, name)
    return clean(child.text) if child is not None else None


def _local(tag: object) -> str:
    """An element's name without its namespace: ``{http://...}loc`` -> ``loc``."""
    return str(tag).rsplit("}", 1)[-1].lower()
