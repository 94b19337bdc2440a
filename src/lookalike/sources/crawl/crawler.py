"""Crawl websites: walk pages from start URLs, fetch the images and archives they link to.

The frontier lives in the catalog (``crawl_url``): every URL found, its state, its
validators.  A crawl claims pending URLs in the order they were found, fetches each
with the one :class:`~lookalike.fetch.Fetcher` (public addresses only, size and
redirect caps), and marks it done or failed after its images are committed.  So a
crawl killed at any moment and run again continues with what is pending, never
fetches a finished page again, and (content hashes, one place per URL) never
duplicates an image.  A re-crawl makes every URL pending again and asks with
``If-None-Match`` / ``If-Modified-Since``: a 304 costs one request and no work.

Files go to a :class:`~lookalike.sources.crawl.ports.Sink` (the same
:class:`~lookalike.ingest.Ingester` as files on disk); an image is seen at its URL,
an archive member at ``URL!/path/in/archive.png``, and each carries what its page
says: page URL, title, description, tags, author, licence.  Which links are taken is
:mod:`.scope`; robots.txt and the pace per host are :mod:`.politeness`.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from lookalike.errors import FetchError, HTTPStatusError
from lookalike.records import CrawlUrl, Provenance
from lookalike.settings import ArchiveSettings, CrawlSettings
from lookalike.sources.crawl.documents import read_page
from lookalike.sources.crawl.pages import Link, absolute
from lookalike.sources.crawl.politeness import ROBOTS_DISALLOWED, Politeness
from lookalike.sources.crawl.ports import Frontier, Sink, Tally
from lookalike.sources.crawl.scope import Scope, frontier_entries
from lookalike.sources.fetch import Fetched, Fetcher
from lookalike.sources.files import blobs_in

__all__ = ["CLAIM", "CrawlReport", "Crawler", "Progress"]

Progress = Callable[[str, int], None]  # (event, amount): "page", "file", "image", "failed"
CLAIM = 32  # URLs taken from the frontier at a time
R = TypeVar("R", bound=Tally)
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


@dataclass
class _Run(Generic[R]):
    """One run's scope, limits (0: none) and counts."""

    scope: Scope
    tally: R
    walk: bool  # whether pages are walked (there were start URLs)
    pages: int
    budget: int
    report: CrawlReport = field(default_factory=CrawlReport)
    planned: int = 0  # pages fetched or being fetched

    def spent(self) -> bool:
        return bool(self.budget) and self.report.bytes >= self.budget

    def pages_left(self) -> bool:
        return self.walk and not (self.pages and self.report.pages >= self.pages)

    def kinds(self) -> tuple[str, ...]:
        return ("page", "file") if self.pages_left() else ("file",)

    def takes(self, entry: CrawlUrl) -> bool:
        """Whether to fetch ``entry`` now, else it stays pending for the next run."""
        if self.spent():
            return False
        if entry.kind != "page":
            return True
        if not self.pages_left() or (self.pages and self.planned >= self.pages):
            return False
        self.planned += 1
        return True

    def finish(self, started: float) -> CrawlReport:
        report, tally = self.report, self.tally
        report.images_new, report.images_known = tally.images_new, tally.images_known
        report.images_failed = tally.failed
        report.seconds = time.monotonic() - started
        return report


class Crawler(Generic[R]):
    """Walks pages from start URLs and indexes the files they link to, through a frontier."""

    def __init__(
        self,
        frontier: Frontier,
        sink: Sink[R],
        tally: Callable[[], R],
        fetcher: Fetcher,
        settings: CrawlSettings,
        archive: ArchiveSettings,
        politeness: Politeness,
        progress: Progress | None = None,
        lease: float = 0.0,
    ) -> None:
        """``tally``: makes the counts ``sink`` adds to, one per run.  ``lease``: seconds a
        claimed URL is this crawler's alone (crawlers sharing a frontier)."""
        self.frontier, self.sink, self.tally, self.fetcher = frontier, sink, tally, fetcher
        self.lease = lease
        self.settings, self.archive, self.politeness = settings, archive, politeness
        self.progress = progress or (lambda event, n: None)

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
        started = time.monotonic()
        pages = self.settings.max_pages if max_pages is None else max_pages
        budget = self.settings.max_bytes if max_bytes is None else max_bytes
        run = _Run(scope, self.tally(), bool(starts), pages, budget)
        if recrawl:
            self.frontier.reset()
        added = self.frontier.add([*(CrawlUrl(url, "page") for url in starts), *files])
        if starts and self.settings.sitemaps and (added or recrawl):  # a resume has them already
            self.frontier.add(self._sitemaps(starts, scope))
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="crawl")
        try:
            while not run.spent() and (claimed := self.frontier.claim(CLAIM, run.kinds(), self.lease)):
                self._batch(claimed, run, pool)
        finally:
            pool.shutdown(cancel_futures=True)
            self.sink.close()
        return run.finish(started)

    def _batch(self, claimed: list[CrawlUrl], run: _Run[R], pool: ThreadPoolExecutor) -> None:
        """Fetch the claimed URLs (``crawl.concurrency`` at a time) and use them in order."""
        window: deque[tuple[CrawlUrl, Future[_Outcome]]] = deque()
        run.planned, left = run.report.pages, []
        for entry in claimed:
            if not run.takes(entry):
                left.append(entry.url)  # stays pending for the next run
            elif not self.politeness.allowed(entry.url):
                self.frontier.failed(entry.url, ROBOTS_DISALLOWED)
                run.report.robots_skipped += 1
            else:
                window.append((entry, pool.submit(self._fetch, entry)))
                while len(window) >= self.settings.concurrency:
                    self._finish(*window.popleft(), run)
        while window:
            self._finish(*window.popleft(), run)
        if left and self.lease:
            self.frontier.release(left)

    def _finish(self, entry: CrawlUrl, future: Future[_Outcome], run: _Run[R]) -> None:
        """Use one fetched URL (in the order they were claimed): parse, index, mark done or failed."""
        fetched, retries = future.result()
        run.report.retries += retries
        if isinstance(fetched, FetchError):
            self._failed(entry, fetched, run.report)
        elif fetched.status == 304:
            run.report.not_modified += 1
            self.frontier.done(entry.url)
        elif run.spent():
            if self.lease:  # fetched while the last bytes of the budget came in: stays pending
                self.frontier.release([entry.url])
        else:
            self._use(entry, fetched, run)

    def _use(self, entry: CrawlUrl, fetched: Fetched, run: _Run[R]) -> None:
        run.report.bytes += len(fetched.data)
        sha = hashlib.sha256(fetched.data).hexdigest()
        page = None
        if entry.kind == "page":
            page = read_page(fetched.data, fetched.url, fetched.content_type, self.settings.selectors)
        if page is not None:
            self.frontier.add(list(frontier_entries(page, entry.depth + 1, run.scope)))
            run.report.pages += 1
            self.progress("page", 1)
        else:
            if sha != entry.sha256:  # the same bytes as last time are indexed already
                self.sink.add_blobs(blobs_in(fetched.data, _provenance(entry), self.archive), run.tally)
            run.report.files += 1
            self.progress("file", 1)
        headers = fetched.headers
        self.frontier.done(entry.url, headers.get("etag"), headers.get("last-modified"), sha)

    def _sitemaps(self, starts: Sequence[str], scope: Scope) -> list[CrawlUrl]:
        """The sitemaps that the start URLs' robots.txt files name, where the scope walks them."""
        named = (absolute(start, url) for start in starts for url in self.politeness.sitemaps(start))
        found = dict.fromkeys(url for url in named if url)
        return [CrawlUrl(url, "page", 1) for url in found if scope.kind(Link(url), 1) == "page"]

    def _fetch(self, entry: CrawlUrl) -> _Outcome:
        """Fetch one URL, with retries (runs in a worker thread: no frontier, no report)."""
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
        self.frontier.failed(entry.url, exc.detail)
        report.failed += 1
        report.failures[exc.reason.value] += 1
        self.progress("failed", 1)


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
