"""What a page says about the work on it, read from the markup sites use, with no configuration.

Pure: a parsed page in, values out.  In order of trust, each field takes the first
source that has it (tags gather from all of them):

1. schema.org items, as JSON-LD or microdata (:mod:`.schema`): ``ImageObject``,
   ``CreativeWork`` and its kinds, ``Product`` with its offers (price, currency);
2. OpenGraph (``og:``, ``article:``, ``product:``) and Twitter cards (``twitter:``);
3. Dublin Core (``DC.creator``, ``dcterms.license``, ...), ``<meta name=keywords>``,
   ``<meta name=author>`` and ``<meta name=description>``;
4. microformats: ``rel=tag``, ``rel=author``, ``rel=license`` and ``h-entry``;
5. ``<title>`` (or the page's only ``<h1>`` where the title is that and the site's name);
6. as a fallback only, elements whose class or id says what they hold (``author``,
   ``artist``, ``license``, ``tags``, ``category``, ...) and labelled rows
   (``<dt>Artist</dt><dd>...</dd>``, ``<th>License</th><td>...</td>``).

What belongs to one image rather than the page (a ``<figcaption>``, ``alt`` and
``title`` attributes, a schema.org item naming its image) is :func:`image_about`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urldefrag, urljoin

from selectolax.parser import HTMLParser, Node

__all__ = ["About", "absolute", "clean", "page_about", "split_tags"]

_SPACE = re.compile(r"\s+")
_TAG_SPLIT = re.compile(r"\s*[,;|]\s*")
_WORD_SPLIT = re.compile(r"[\s_-]+")
_MOST_TAGS = 40  # more links or items than this under one "tags" element: not a tag list
_LABEL = re.compile(r"^\s*(?:by|author|artist|creator|licen[cs]e|tags?|categor(?:y|ies))\s*[:\-–—]?\s*", re.I)

# class or id words, by the field they fill (the fallback)
_ROLE_WORDS = {
    "author": {"author", "artist", "creator", "byline", "uploader", "username"},
    "licence": {"license", "licence", "rights", "copyright"},
    "tags": {"tags", "tag", "keywords", "category", "categories", "tagcloud", "taglist", "labels"},
}
_LABELS = {
    "author": {"author", "artist", "creator", "by", "made by", "uploaded by"},
    "licence": {"license", "licence", "rights", "copyright"},
    "tags": {"tags", "tag", "keywords", "category", "categories", "labels"},
}


@dataclass(frozen=True)
class About:
    """What markup says about a work: title, description, tags and the rest (author, licence, price...)."""

    title: str | None = None
    text: str | None = None
    tags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def over(self, base: About) -> About:
        """This, with ``base``'s values where this has none; the tags of both, these first."""
        return About(
            title=self.title or base.title,
            text=self.text or base.text,
            tags=tuple(dict.fromkeys((*self.tags, *base.tags))),
            extra={**base.extra, **self.extra},
        )

    def filled(self) -> bool:
        return bool(self.title or self.text or self.tags or self.extra)


def page_about(tree: HTMLParser, base: str, schema: About | None = None, entry: About | None = None) -> About:
    """What the page says about its work: its main schema.org item (``schema``), over its
    meta tags, over its microformats (``rel`` links, its main ``entry``) and title, over
    the class-word fallback (for author, licence and tags only where nothing else had them)."""
    found = schema or About()
    for more in (_meta_about(tree), _rel_about(tree, base), entry or About()):
        found = found.over(more)
    found = found.over(About(title=_title(tree)))
    missing = {"author", "licence"} - set(found.extra)
    fallback = _fallback_about(tree, base)
    keep = {k: v for k, v in fallback.extra.items() if k in missing}
    return replace(found, tags=found.tags or fallback.tags, extra={**found.extra, **keep})


def _title(tree: HTMLParser) -> str | None:
    """The page's ``<title>``, or its only ``<h1>`` where the title is that and the site's name
    (``Amber knight | Gallery``)."""
    title = clean(_node_text(tree.css_first("title")))
    heads = tree.css("h1")
    head = clean(_node_text(heads[0])) if len(heads) == 1 else None
    return head if head and title and head in title else title or head


def _meta_about(tree: HTMLParser) -> About:
    metas = _metas(tree)

    def first(*names: str) -> str | None:
        return next((metas[n][0] for n in names if metas.get(n)), None)

    tags = [t for name in ("article:tag", "video:tag", "book:tag") for t in metas.get(name, ())]
    for name in ("keywords", "news_keywords", "dc.subject", "dcterms.subject"):
        tags += [t for value in metas.get(name, ()) for t in split_tags(value)]
    extra = {
        "author": first("author", "article:author", "dc.creator", "dcterms.creator", "twitter:creator"),
        "licence": first("dc.rights", "dcterms.license", "dcterms.rights", "license", "copyright"),
        "price": first("product:price:amount", "og:price:amount"),
        "currency": first("product:price:currency", "og:price:currency"),
    }
    return About(
        title=first("og:title", "twitter:title", "dc.title", "dcterms.title"),
        text=first(
            "og:description", "twitter:description", "dc.description", "dcterms.description", "description"
        ),
        tags=tuple(dict.fromkeys(tags)),
        extra={k: v for k, v in extra.items() if v},
    )


def _metas(tree: HTMLParser) -> dict[str, list[str]]:
    """``<meta>`` contents by lower-case name or property, in page order."""
    found: dict[str, list[str]] = {}
    for node in tree.css("meta[content]"):
        attrs = node.attributes
        content = clean(attrs.get("content"))
        if not content:
            continue
        for key in {(attrs.get("property") or "").lower(), (attrs.get("name") or "").lower()} - {""}:
            found.setdefault(key, []).append(content)
    return found


def _rel_about(tree: HTMLParser, base: str) -> About:
    """Microformats: ``rel=tag``, ``rel=author``, ``rel=license`` (on ``<a>`` and ``<link>``)."""
    tags = [_tag_of(node, base) for node in tree.css("a[rel~=tag]")]
    author = _node_text(tree.css_first("a[rel~=author]"))
    licence_node = tree.css_first("a[rel~=license][href], link[rel~=license][href]")
    extra = {
        "author": clean(author),
        "licence": absolute(base, licence_node.attributes.get("href")) if licence_node else None,
    }
    return About(tags=tuple(dict.fromkeys(t for t in tags if t)), extra={k: v for k, v in extra.items() if v})


def _tag_of(node: Node, base: str) -> str | None:
    """A tag link's word: its text, else the last part of its URL (``/tags/red`` -> ``red``)."""
    text = clean(_node_text(node))
    if text:
        return text.lstrip("#")
    href = absolute(base, node.attributes.get("href")) or ""
    last = href.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    return clean(re.sub(r"\.html?$", "", last).replace("-", " ").replace("+", " ")) or None


def _fallback_about(tree: HTMLParser, base: str) -> About:
    """Elements named by class or id words, and labelled rows: used where nothing better was found."""
    extra: dict[str, str] = {}
    tags: list[str] = []
    linked = False  # a licence block with a link outranks one of plain words ("© 2026 Gallery")
    for role, node in _role_nodes(tree):
        if role == "tags":
            tags += _tag_words(node, base)
        elif (role not in extra or (role == "licence" and not linked)) and (
            value := _role_value(role, node, base)
        ):
            if role == "licence" and "licence" in extra and "://" not in value:
                continue
            extra[role] = value
            linked = linked or (role == "licence" and "://" in value)
    return About(tags=tuple(dict.fromkeys(tags)), extra=extra)


def _role_nodes(tree: HTMLParser) -> Iterator[tuple[str, Node]]:
    """(role, element): labelled values (``<dt>Artist</dt><dd>``), then elements whose class or id
    words name a role."""
    body = tree.body or tree.root
    if body is None:
        return
    for label in body.css("dt, th"):
        value = label.next
        while value is not None and value.tag not in ("dd", "td"):
            value = value.next
        name = (clean(_node_text(label)) or "").lower().rstrip(":")
        labelled = next((r for r, names in _LABELS.items() if name in names), None)
        if labelled and value is not None:
            yield labelled, value
    for node in body.traverse():
        if "class" not in node.attributes and "id" not in node.attributes:
            continue
        words = set(
            _WORD_SPLIT.split(
                f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}".lower()
            )
        )
        for role, names in _ROLE_WORDS.items():
            if words & names:
                yield role, node
                break


def _role_value(role: str, node: Node, base: str) -> str | None:
    if node.tag in ("meta", "script", "style", "link", "body", "html"):
        return None
    if role == "licence":
        link = node if node.tag == "a" else node.css_first("a[href]")
        if link is not None and (href := absolute(base, link.attributes.get("href"))):
            return href
    if role == "author":
        link = node.css_first("a")
        text = clean(_node_text(link)) if link is not None else None
        if text:
            return text
    text = clean(_node_text(node))
    if not text or len(text) > 200:  # a whole block of the page, not a name
        return None
    return clean(_LABEL.sub("", text)) or None


def _tag_words(node: Node, base: str) -> list[str]:
    if node.tag in ("meta", "script", "style", "link", "body", "html"):
        return []
    parts = node.css("a, li") if node.tag not in ("a", "li") else [node]
    if len(parts) > _MOST_TAGS:  # a whole region of the page (a "tags-and-more" wrapper), not a list
        return []
    if parts:
        return [t for t in (_tag_of(p, base) if p.tag == "a" else clean(_node_text(p)) for p in parts) if t]
    text = _LABEL.sub("", clean(_node_text(node)) or "")
    return split_tags(text) if len(text) <= 300 else []


def split_tags(value: str | None) -> list[str]:
    """Tags from a list written as text: ``"a, b; c"`` -> ``["a", "b", "c"]``."""
    return [t for t in (clean(p) for p in _TAG_SPLIT.split(value or "")) if t]


def clean(value: Any) -> str | None:
    """Text with its runs of white space made one space; None when empty or not text."""
    if not isinstance(value, str):
        return None
    return _SPACE.sub(" ", value).strip() or None


def _node_text(node: Node | None) -> str | None:
    return node.text() if node is not None else None


def absolute(base: str, href: str | None) -> str | None:
    """``href`` resolved against ``base``, without its fragment; None unless http(s)."""
    if not href or not href.strip():
        return None
    try:
        resolved = urldefrag(urljoin(base, href.strip())).url
    except ValueError:
        return None
    return resolved if resolved.startswith(("http://", "https://")) else None
