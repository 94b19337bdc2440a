"""Which links a crawl takes: pages to walk and files to fetch, and why it refuses the others.

By default a crawl stays on the hosts of its start URLs (``crawl.scope = "host"``; ``"domain"``
widens it to their registrable domains, by the public suffix list bundled with
``publicsuffixlist``, read offline; ``"any"`` lifts it).  Files on other hosts are fetched
only from hosts the user allows (``crawl.allow_hosts``, ``--allow-host``): many galleries keep
their files on a CDN.  Every link found is kept in the frontier: taken (pending) or refused
with a reason (:data:`OUT_OF_SCOPE`, :data:`EXCLUDED`, :data:`MAX_DEPTH`), so that ``crawl
status`` can count what was left and why, and a later crawl with a wider scope takes it up.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from lookalike.records import CrawlUrl
from lookalike.settings import CrawlSettings
from lookalike.sources.archives import ARCHIVE_SUFFIXES
from lookalike.sources.crawl.pages import Link, Page
from lookalike.sources.files import IMAGE_EXTENSIONS

__all__ = [
    "EXCLUDED",
    "MAX_DEPTH",
    "OUT_OF_SCOPE",
    "SCOPE_REASONS",
    "Refusal",
    "Scope",
    "frontier_entries",
    "registrable_domain",
]

_FILE_SUFFIXES = tuple(IMAGE_EXTENSIONS) + ARCHIVE_SUFFIXES
#: Reasons a URL is refused without being fetched, all of them weighed again by the next crawl.
OUT_OF_SCOPE, EXCLUDED, MAX_DEPTH = "out_of_scope", "excluded", "max_depth"
SCOPE_REASONS = (OUT_OF_SCOPE, EXCLUDED, MAX_DEPTH)
Refusal = tuple[str, str]  # (reason, detail in words)


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list bundled with the package: nothing is downloaded


def registrable_domain(host: str) -> str:
    """The part of ``host`` that one owner registered (``art.example.co.uk`` -> ``example.co.uk``);
    an IP address or a name with no public suffix is its own domain."""
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        return _suffixes().privatesuffix(host) or host


@dataclass(frozen=True)
class Scope:
    """Which links a crawl follows (pages) and fetches (files), and why it refuses the others."""

    hosts: frozenset[str] = frozenset()  # host[:port] of the start URLs; empty: any host
    domains: frozenset[str] = frozenset()  # with crawl.scope "domain": their registrable domains
    allow_hosts: tuple[str, ...] = ()  # other hosts that files may be fetched from
    starts: frozenset[str] = frozenset()  # start URLs: always taken
    follow: re.Pattern[str] | None = None  # pages to walk; None: every page in scope
    files: re.Pattern[str] | None = None  # file links to fetch; None: images and archives by name
    include: tuple[re.Pattern[str], ...] = ()  # when given, a URL must match one
    exclude: tuple[re.Pattern[str], ...] = ()  # a URL that matches one is refused
    max_depth: int = 5

    @classmethod
    def build(
        cls,
        starts: Sequence[str],
        settings: CrawlSettings,
        follow: str | None = None,
        files: str | None = None,
        max_depth: int | None = None,
        *,
        scope: str | None = None,
        allow_hosts: Sequence[str] = (),
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Scope:
        """The scope of a crawl from its start URLs, settings and options (patterns are regexes,
        searched anywhere in the URL; options add to the settings' lists)."""
        mode = scope or settings.scope
        hosts = frozenset(_netloc(u) for u in starts) if mode != "any" else frozenset()
        domains = (
            frozenset(registrable_domain(_hostname(u)) for u in starts) if mode == "domain" else frozenset()
        )
        return cls(
            hosts=hosts,
            domains=domains,
            allow_hosts=tuple(h.lower() for h in (*settings.allow_hosts, *allow_hosts)),
            starts=frozenset(starts),
            follow=re.compile(follow) if follow else None,
            files=re.compile(files) if files else None,
            include=tuple(re.compile(p) for p in (*settings.include, *include)),
            exclude=tuple(re.compile(p) for p in (*settings.exclude, *exclude)),
            max_depth=settings.max_depth if max_depth is None else max_depth,
        )

    def kind(self, link: Link) -> str:
        """What a link is: a "file" (an image shown on the page, a link named like an image or
        an archive, or one the ``files`` pattern picks) or a "page" to walk."""
        if self.files is not None and self.files.search(link.url) is not None:
            return "file"
        named_file = link.embedded or urlsplit(link.url).path.lower().endswith(_FILE_SUFFIXES)
        return "file" if named_file else "page"

    def refusal(self, url: str, kind: str, depth: int) -> Refusal | None:
        """Why a URL of ``kind`` found ``depth`` links from a start is not taken; None: taken."""
        if url in self.starts:
            return None
        outside = self._outside(url, kind)
        if outside:
            return OUT_OF_SCOPE, outside
        for pattern in self.exclude:
            if pattern.search(url):
                return EXCLUDED, f"matches the exclude pattern {pattern.pattern!r}"
        if self.include and not any(p.search(url) for p in self.include):
            return EXCLUDED, "matches no include pattern"
        if kind == "file":
            if self.files is not None and self.files.search(url) is None:
                return EXCLUDED, "not a file the --files pattern picks"
            return None
        if depth > self.max_depth:
            return MAX_DEPTH, f"{depth} links from a start page, past the depth limit ({self.max_depth})"
        if self.follow is not None and self.follow.search(url) is None:
            return EXCLUDED, "not a page the --follow pattern picks"
        return None

    def _outside(self, url: str, kind: str) -> str | None:
        """Why ``url`` is on a host outside the scope, or None."""
        if not self.hosts:
            return None
        netloc = _netloc(url)
        if self.domains and registrable_domain(_hostname(url)) in self.domains:
            return None
        if not self.domains and netloc in self.hosts:
            return None
        site = "the domain" if self.domains else "the host"
        if kind == "file":
            if self._allowed(netloc):
                return None
            return f"{netloc} is outside {site} of the start URLs (allow its files with --allow-host)"
        return f"{netloc} is outside {site} of the start URLs"

    def _allowed(self, netloc: str) -> bool:
        """Whether files may come from ``netloc``: listed as host:port, as host, or as .domain."""
        host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
        for entry in self.allow_hosts:
            if entry in (netloc, host):
                return True
            if entry.startswith(".") and (host == entry[1:] or host.endswith(entry)):
                return True
        return False


def frontier_entries(page: Page, depth: int, scope: Scope) -> Iterable[CrawlUrl]:
    """The frontier entries for a page's links at ``depth``, pending or refused with the reason;
    files carry what the page says of them."""
    for link in page.links:
        kind = scope.kind(link)
        refused = scope.refusal(link.url, kind, depth)
        state, reason, detail = ("refused", *refused) if refused else ("pending", None, None)
        if kind == "file":
            yield replace(page.file_entry(link.url, depth), state=state, reason=reason, last_error=detail)
        else:
            yield CrawlUrl(link.url, "page", depth, state, reason=reason, last_error=detail)


def _netloc(url: str) -> str:
    return urlsplit(url).netloc.rsplit("@", 1)[-1].lower()


def _hostname(url: str) -> str:
    return urlsplit(url).hostname or ""
