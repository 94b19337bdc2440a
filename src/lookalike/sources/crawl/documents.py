"""Which reader a fetched page-kind document needs: an HTML page, or a sitemap or feed in XML."""

from __future__ import annotations

from collections.abc import Mapping

from lookalike.sources.crawl.pages import Page, parse_page
from lookalike.sources.crawl.sitemaps import looks_like_xml, parse_xml

__all__ = ["is_html", "read_page"]


def read_page(
    data: bytes, url: str, content_type: str | None = None, selectors: Mapping[str, str] | None = None
) -> Page | None:
    """The links and metadata of an HTML page, a sitemap or a feed; None when it is none of
    them (then it is a file: a link to a page may answer with an image)."""
    if is_html(data, content_type):
        return parse_page(data, url, content_type, selectors)
    if looks_like_xml(data, content_type):
        return parse_xml(data, url)
    return None


def is_html(data: bytes, content_type: str | None) -> bool:
    """Whether the server says HTML, or (saying nothing) the body starts like markup that is not XML."""
    kind = (content_type or "").lower()
    if kind:
        return "html" in kind
    return data.lstrip()[:1] == b"<" and not looks_like_xml(data, content_type)
