"""Which links a crawl takes: pages to walk and files to fetch, and the entries they make."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from lookalike.records import CrawlUrl
from lookalike.settings import CrawlSettings
from lookalike.sources.archives import ARCHIVE_SUFFIXES
from lookalike.sources.crawl.pages import Link, Page
from lookalike.sources.files import IMAGE_EXTENSIONS

__all__ = ["Scope", "frontier_entries"]

_FILE_SUFFIXES = tuple(IMAGE_EXTENSIONS) + ARCHIVE_SUFFIXES


@dataclass(frozen=True)
class Scope:
    """Which links a crawl follows (pages) and fetches (files)."""

    hosts: frozenset[str] = frozenset()  # hosts pages may be on; empty: any
    follow: re.Pattern[str] | None = None  # pages to walk; None: every page in the hosts
    files: re.Pattern[str] | None = None  # file links to fetch; None: images and archives by name
    max_depth: int = 5

    @classmethod
    def build(
        cls,
        starts: Sequence[str],
        settings: CrawlSettings,
        follow: str | None = None,
        files: str | None = None,
        max_depth: int | None = None,
    ) -> Scope:
        """The scope of a crawl from its start URLs, settings and options (patterns are regexes)."""
        hosts = frozenset(urlsplit(u).netloc.lower() for u in starts) if settings.same_site else frozenset()
        return cls(
            hosts=hosts,
            follow=re.compile(follow) if follow else None,
            files=re.compile(files) if files else None,
            max_depth=settings.max_depth if max_depth is None else max_depth,
        )

    def kind(self, link: Link, depth: int) -> str | None:
        """What to do with a link: "file", "page", or None (not taken).

        An image shown on the page, or a link named like an image or an archive, is a
        file or nothing: never a page to walk.
        """
        named_file = link.embedded or urlsplit(link.url).path.lower().endswith(_FILE_SUFFIXES)
        if self.files is not None and self.files.search(link.url) is not None:
            return "file"
        if named_file:
            return "file" if self.files is None else None
        return "page" if self._walks(link.url, depth) else None

    def _walks(self, url: str, depth: int) -> bool:
        if depth > self.max_depth:
            return False
        if self.hosts and urlsplit(url).netloc.lower() not in self.hosts:
            return False
        return self.follow is None or self.follow.search(url) is not None


def frontier_entries(page: Page, depth: int, scope: Scope) -> Iterable[CrawlUrl]:
    """The frontier entries for a page's links at ``depth``: files carry what the page says of them."""
    for link in page.links:
        kind = scope.kind(link, depth)
        if kind == "file":
            yield page.file_entry(link.url, depth)
        elif kind == "page":
            yield CrawlUrl(link.url, "page", depth)
