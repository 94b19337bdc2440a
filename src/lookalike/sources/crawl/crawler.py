"""Crawl websites: walk pages from start URLs, fetch the images and archives they link to.

The frontier lives in the catalog (``crawl_url``): every URL found, its state, its
validators.  A crawl claims pending URLs in the order they were found, fetches each
with the one :class:`~lookalike.fetch.Fetcher` (public addresses only, size and
redirect caps), and marks it done or failed after its images are committed.  So a
crawl killed at any moment and run again continues with what is pending, never
fetches a finished page again, and (content hashes, one place per URL) never
duplicates an image.  A re-crawl makes every URL pending again and asks with
``If-None-Match`` / ``If-Modified-Since``: a 304 costs one request and no work.

Files go through the same :class:`~lookalike.ingest.Ingester` as files on disk; an
image is seen at its URL, an archive member at ``URL!/path/in/archive.png``, and each
carries what its page says: page URL, title, description, tags, author, licence.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from protego import Protego

from lookalike.catalog import Catalog
from lookalike.errors import FetchError, HTTPStatusError
from lookalike.ingest.pipeline import Ingester, IngestReport
from lookalike.records import CrawlUrl, Provenance
from lookalike.settings import ArchiveSettings, CrawlSettings
from lookalike.sources.archives import ARCHIVE_SUFFIXES
from lookalike.sources.crawl.pages import Link, Page, parse_page
from lookalike.sources.fetch import Fetched, Fetcher
from lookalike.sources.files import IMAGE_EXTENSIONS, blobs_in

__all__ = ["CrawlReport", "Crawler", "Scope"]

Progress = Callable[[str, int], None]  # (event, amount): "page", "file", "image", "failed"
CLAIM = 32  # URLs taken from the frontier at a time
ROBOTS_DISALLOWED = "disallowed by robots.txt"
_FILE_SUFFIXES = tuple(IMAGE_EXTENSIONS) + ARCHIVE_SUFFIXES
_Outcome = tuple["Fetched | FetchError", int]  # the response or why not, and the retries it took


@dataclass
class CrawlReport:
    """What one crawl run did."""

    pages: int = 0
    files: int = 0
    not_modified: int = 0
    retries: int = 0
    robots_skipped: int = 0
    failed: int = 0
    bytes: int = 0
    images_new: int = 0
    images_known: int = 0
    images_failed: int = 0
    seconds: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "failures": dict(self.failures)}


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


class Politeness:
    """robots.txt per origin and a delay between requests to one host."""

    def __init__(
        self,
        fetcher: Fetcher,
        settings: CrawlSettings,
        user_agent: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._fetcher, self._settings, self._agent = fetcher, settings, user_agent
        self._clock, self.sleep = clock, sleep
        self._robots: dict[str, Protego | None] = {}
        self._last: dict[str, float] = {}
        self._gates: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets us fetch ``url`` (read once per origin; call from one thread)."""
        robots = self._rules(url)
        return robots is None or bool(robots.can_fetch(url, self._agent))

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Hold one of the host's ``crawl.per_host`` request slots, after its delay."""
        host = urlsplit(url).netloc.lower()
        with self._lock:
            gate = self._gates.setdefault(host, threading.BoundedSemaphore(self._settings.per_host))
        with gate:
            self.wait(url)
            yield

    def wait(self, url: str) -> None:
        """Sleep until this host may be asked again (each caller reserves the next turn)."""
        host = urlsplit(url).netloc.lower()
        robots = self._robots.get(_origin(url)) if self._settings.robots else None
        delay = max(self._settings.delay, (robots.crawl_delay(self._agent) or 0) if robots else 0)
        with self._lock:
            now = self._clock()
            last = self._last.get(host)
            turn = now if last is None else max(now, last + delay)
            self._last[host] = turn
        if turn > now:
            self.sleep(turn - now)

    def _rules(self, url: str) -> Protego | None:
        if not self._settings.robots:
            return None
        origin = _origin(url)
        if origin not in self._robots:
            self._robots[origin] = None  # no robots.txt (or none readable): everything is allowed
            try:
                self.wait(origin)
                fetched = self._fetcher.get(f"{origin}/robots.txt")
                self._robots[origin] = Protego.parse(fetched.data.decode("utf-8", errors="replace"))
            except HTTPStatusError as exc:
                if exc.status >= 500:  # RFC 9309: an unreachable robots.txt disallows everything
                    self._robots[origin] = Protego.parse("User-agent: *\nDisallow: /\n")
            except FetchError:
                pass  # none (4xx), or the site cannot be reached: its pages will fail alone
        return self._robots[origin]


class Crawler:
    """Walks pages from start URLs and indexes the files they link to, through the catalog's frontier."""

    def __init__(
        self,
        catalog: Catalog,
        ingester: Ingester,
        fetcher: Fetcher,
        settings: CrawlSettings,
        archive: ArchiveSettings,
        politeness: Politeness,
        progress: Progress | None = None,
        lease: float = 0.0,
    ) -> None:
        """``lease``: seconds a claimed URL is this crawler's alone (crawlers sharing a frontier)."""
        self.catalog, self.ingester, self.fetcher = catalog, ingester, fetcher
        self.lease = lease
        self.settings, self.archive, self.politeness = settings, archive, politeness
        self.progress = progress or (lambda event, n: None)
        self._budget = 0

    def run(
        self,
        starts: Sequence[str],
        scope: Scope,
        recrawl: bool = False,
        max_pages: int | None = None,
        files: Sequence[CrawlUrl] = (),
        max_bytes: int | None = None,
    ) -> CrawlReport:
        """Crawl from ``starts`` and fetch ``files``, continuing whatever the frontier holds pending.

        ``recrawl`` makes finished URLs pending again (fetched with conditional requests).
        ``max_pages`` and ``max_bytes`` (defaults ``crawl.max_pages``, ``crawl.max_bytes``;
        0: no limit) cap the pages fetched and the bytes downloaded in this run; the rest
        stays pending for the next.  With no ``starts`` (a list of file URLs), pending
        pages are left for a crawl.
        """
        started, report, ingested = time.monotonic(), CrawlReport(), IngestReport()
        pages = self.settings.max_pages if max_pages is None else max_pages
        budget = self.settings.max_bytes if max_bytes is None else max_bytes
        self._budget = budget
        if recrawl:
            self.catalog.frontier.reset()
        self.catalog.frontier.add([*(CrawlUrl(url, "page") for url in starts), *files])
        walk = bool(starts)

        def pages_left() -> bool:
            return walk and not (pages and report.pages >= pages)

        window: deque[tuple[CrawlUrl, Future[_Outcome]]] = deque()
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="crawl")
        try:
            while not (budget and report.bytes >= budget):
                kinds = ("page", "file") if pages_left() else ("file",)
                claimed = self.catalog.frontier.claim(CLAIM, kinds, self.lease)
                if not claimed:
                    break
                planned, left = report.pages, []
                for entry in claimed:
                    if budget and report.bytes >= budget:
                        left.append(entry.url)  # stays pending for the next run
                        continue
                    if entry.kind == "page":
                        if not pages_left() or (pages and planned >= pages):
                            left.append(entry.url)  # stays pending for the next run
                            continue
                        planned += 1
                    if not self.politeness.allowed(entry.url):
                        self.catalog.frontier.failed(entry.url, ROBOTS_DISALLOWED)
                        report.robots_skipped += 1
                        continue
                    window.append((entry, pool.submit(self._fetch, entry)))
                    while len(window) >= self.settings.concurrency:
                        self._finish(*window.popleft(), scope, report, ingested)
                while window:
                    self._finish(*window.popleft(), scope, report, ingested)
                if left and self.lease:
                    self.catalog.frontier.release(left)
        finally:
            pool.shutdown(cancel_futures=True)
            self.ingester.close()
        report.images_new, report.images_known = ingested.images_new, ingested.images_known
        report.images_failed = ingested.failed
        report.seconds = time.monotonic() - started
        return report

    def _finish(
        self,
        entry: CrawlUrl,
        future: Future[_Outcome],
        scope: Scope,
        report: CrawlReport,
        ingested: IngestReport,
    ) -> None:
        """Use one fetched URL (in the order they were claimed): parse, index, mark done or failed."""
        fetched, retries = future.result()
        report.retries += retries
        if isinstance(fetched, FetchError):
            self._failed(entry, fetched, report)
        elif fetched.status == 304:
            report.not_modified += 1
            self.catalog.frontier.done(entry.url)
        elif self._budget and report.bytes >= self._budget:
            if self.lease:  # fetched while the last bytes of the budget came in: stays pending
                self.catalog.frontier.release([entry.url])
        else:
            self._use(entry, fetched, scope, report, ingested)

    def _use(
        self, entry: CrawlUrl, fetched: Fetched, scope: Scope, report: CrawlReport, ingested: IngestReport
    ) -> None:
        report.bytes += len(fetched.data)
        sha = hashlib.sha256(fetched.data).hexdigest()
        if entry.kind == "page" and _is_html(fetched):
            self._page(entry, fetched, scope)
            report.pages += 1
            self.progress("page", 1)
        else:
            if sha != entry.sha256:  # the same bytes as last time are indexed already
                self.ingester.add_blobs(blobs_in(fetched.data, _provenance(entry), self.archive), ingested)
            report.files += 1
            self.progress("file", 1)
        headers = fetched.headers
        self.catalog.frontier.done(entry.url, headers.get("etag"), headers.get("last-modified"), sha)

    def _fetch(self, entry: CrawlUrl) -> _Outcome:
        """Fetch one URL, with retries (runs in a worker thread: no catalog, no report)."""
        conditional = {}
        if entry.etag:
            conditional["If-None-Match"] = entry.etag
        if entry.last_modified:
            conditional["If-Modified-Since"] = entry.last_modified
        for attempt in range(self.settings.retries + 1):
            try:
                with self.politeness.slot(entry.url):
                    return self.fetcher.get(entry.url, conditional), attempt
            except HTTPStatusError as exc:
                pause = self._retry_pause(exc, attempt)
                if pause is None:
                    return exc, attempt
                self.politeness.sleep(pause)
            except FetchError as exc:
                return exc, attempt
        raise AssertionError("unreachable: the last attempt returns")

    def _retry_pause(self, exc: HTTPStatusError, attempt: int) -> float | None:
        """Seconds to wait before asking again, or None to give up."""
        if not exc.transient or attempt >= self.settings.retries:
            return None
        pause = exc.retry_after if exc.retry_after is not None else self.settings.retry_wait * 2**attempt
        return pause if pause <= self.settings.max_retry_wait else None

    def _failed(self, entry: CrawlUrl, exc: FetchError, report: CrawlReport) -> None:
        self.catalog.frontier.failed(entry.url, exc.detail)
        report.failed += 1
        report.failures[exc.reason.value] += 1
        self.progress("failed", 1)

    def _page(self, entry: CrawlUrl, fetched: Fetched, scope: Scope) -> None:
        page = parse_page(fetched.data, fetched.url, fetched.content_type, self.settings.selectors)
        self.catalog.frontier.add(list(_found(page, entry.depth + 1, scope)))


def _found(page: Page, depth: int, scope: Scope) -> Iterable[CrawlUrl]:
    """The frontier entries for a page's links: files carry the page's metadata."""
    metadata = {"text": page.text, "tags": list(page.tags), "extra": page.extra}
    for link in page.links:
        kind = scope.kind(link, depth)
        if kind == "file":
            yield CrawlUrl(link.url, "file", depth, page_url=page.url, title=page.title, metadata=metadata)
        elif kind == "page":
            yield CrawlUrl(link.url, "page", depth)


def _provenance(entry: CrawlUrl) -> Provenance:
    meta = entry.metadata
    return Provenance(
        uri=entry.url,
        url=entry.url,
        page_url=entry.page_url,
        title=entry.title,
        text=meta.get("text"),
        tags=tuple(meta.get("tags") or ()),
        extra=dict(meta.get("extra") or {}),
    )


def _is_html(fetched: Fetched) -> bool:
    kind = (fetched.content_type or "").lower()
    if kind:
        return "html" in kind
    return fetched.data.lstrip()[:1] == b"<"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
