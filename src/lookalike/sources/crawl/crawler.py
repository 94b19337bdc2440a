"""Crawl websites: walk pages from start URLs, fetch the images and archives they link to.

The frontier lives in the catalog (``crawl_url``): every URL found, its state, its
validators.  A crawl claims pending URLs in the order they were found, fetches each
with the one :class:`~lookalike.fetch.Fetcher` (public addresses only, size and
redirect caps), and marks it done or failed after its images are committed.  So a
crawl killed at any moment and run again continues with what is pending, never
fetches a finished page again, and (content hashes, one place per URL) never
duplicates an image.  A re-crawl makes every page pending again and asks with
``If-None-Match`` / ``If-Modified-Since``: a 304 costs one request and no work.  The files
of an unchanged page (a 304, or the same content hash) are not asked again until their own
max-age runs out (:mod:`.freshness`) or ``recheck_files`` says so; a page that changed makes
its files pending again.  So a re-crawl of an unchanged site costs one request per page.

Every link found is kept: pending, or refused with the reason (:mod:`.scope`; robots.txt).
A URL is weighed against the scope when found and again when claimed, before anything (its
host's robots.txt included) is fetched, so a crawl asks nothing of a host outside it.

Files go to a :class:`~lookalike.sources.crawl.ports.Sink` (the same
:class:`~lookalike.ingest.Ingester` as files on disk); an image is seen at its URL,
an archive member at ``URL!/path/in/archive.png``, and each carries what its page
says: page URL, title, description, tags, author, licence.  Which links are taken is
:mod:`.scope`; robots.txt and the pace per host are :mod:`.politeness`.  Pages of another
kind are read by the :data:`~.ports.Reader` given for it: a recipe's JSON API pages
(``listing``, :mod:`.recipe`) name files and the next page the same way.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from lookalike.errors import FetchError, HTTPStatusError, InputError
from lookalike.records import PAGE_MARK, CrawlUrl, Provenance
from lookalike.settings import ArchiveSettings, CrawlSettings
from lookalike.sources.crawl.documents import read_page
from lookalike.sources.crawl.freshness import fresh_until
from lookalike.sources.crawl.pages import Link, Page, absolute
from lookalike.sources.crawl.politeness import ROBOTS, ROBOTS_DISALLOWED, Politeness
from lookalike.sources.crawl.ports import Frontier, Reader, Sink, Tally
from lookalike.sources.crawl.scope import SCOPE_REASONS, Scope, frontier_entries
from lookalike.sources.fetch import Fetched, Fetcher
from lookalike.sources.files import Blob, Rejected, blobs_in

__all__ = ["CLAIM", "CrawlReport", "Crawler", "Progress", "on_page", "page_entry", "provenance"]

#: (event, amount): URLs finished ("page", "file", "unchanged", "url_failed", "refused"), URLs to
#: do ("pending" at the start, then "queued" as pages add them), links refused as found
#: ("refused_link"); the sink adds its own ("image", and "failed" for an image it could not use).
Progress = Callable[[str, int], None]
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
    refused: Counter[str] = field(default_factory=Counter)  # URLs not fetched, by reason
    files_revalidated: int = 0  # files made pending again because their page changed

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "failures": dict(self.failures), "refused": dict(self.refused)}


@dataclass
class _Run(Generic[R]):
    """One run's scope, limits (0: none) and counts."""

    scope: Scope
    tally: R
    walks: tuple[str, ...]  # the kinds of pages walked: "page" (there were start URLs), readers' kinds
    pages: int
    budget: int
    report: CrawlReport = field(default_factory=CrawlReport)
    planned: int = 0  # pages fetched or being fetched
    started: float = field(default_factory=time.time)  # wall clock, as the frontier's times
    refused: set[str] = field(default_factory=set)  # URLs refused in this run, each counted once

    def refuse(self, url: str, reason: str) -> bool:
        """Count a refusal once per URL; False when it was counted already."""
        if url in self.refused:
            return False
        self.refused.add(url)
        self.report.refused[reason] += 1
        return True

    def spent(self) -> bool:
        return bool(self.budget) and self.report.bytes >= self.budget

    def pages_left(self) -> bool:
        return bool(self.walks) and not (self.pages and self.report.pages >= self.pages)

    def kinds(self) -> tuple[str, ...]:
        return (*self.walks, "file") if self.pages_left() else ("file",)

    def takes(self, entry: CrawlUrl) -> bool:
        """Whether to fetch ``entry`` now, else it stays pending for the next run."""
        if self.spent():
            return False
        if entry.kind == "file":
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
        readers: Mapping[str, Reader] | None = None,
        headers: Callable[[str], Mapping[str, str]] | None = None,
    ) -> None:
        """``tally``: makes the counts ``sink`` adds to, one per run.  ``lease``: seconds a
        claimed URL is this crawler's alone (crawlers sharing a frontier).  ``readers``: by
        frontier kind, what reads pages other than web pages (a recipe's API pages).
        ``headers``: the request headers to send with a URL (a recipe's API key), kept from
        any other origin a redirect leads to."""
        self.frontier, self.sink, self.tally, self.fetcher = frontier, sink, tally, fetcher
        self.lease, self.readers = lease, dict(readers or {})
        self.headers = headers or (lambda url: {})
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
        recheck_files: bool = False,
    ) -> CrawlReport:
        """Crawl from ``starts`` and fetch ``files``, continuing whatever the frontier holds pending.

        ``recrawl`` makes pages pending again (fetched with conditional requests), and the
        files whose max-age ran out; ``recheck_files`` (a re-crawl too) every file as well.
        URLs refused by the scope of an earlier crawl are weighed again against ``scope``.
        ``max_pages`` and ``max_bytes`` (defaults ``crawl.max_pages``, ``crawl.max_bytes``;
        0: no limit) cap the pages fetched and the bytes downloaded in this run; the rest
        stays pending for the next.  With no ``starts`` (a list of file URLs), pending
        pages are left for a crawl.
        """
        started = time.monotonic()
        pages = self.settings.max_pages if max_pages is None else max_pages
        budget = self.settings.max_bytes if max_bytes is None else max_bytes
        walks = (("page",) if starts else ()) + tuple(self.readers)
        run = _Run(scope, self.tally(), walks, pages, budget)
        if recrawl or recheck_files:
            self.frontier.reset(recheck_files)
        added = self.frontier.add([*(CrawlUrl(url, "page") for url in starts), *files])
        if starts and self.settings.sitemaps and (added or recrawl):  # a resume has them already
            self.frontier.add(self._sitemaps(starts, scope))
        if "page" in run.walks:
            self._reconsider(scope)
        self.progress("pending", self.frontier.pending(run.kinds()))
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="crawl")
        try:
            while not run.spent() and (claimed := self.frontier.claim(CLAIM, run.kinds(), self.lease)):
                self._batch(claimed, run, pool)
        finally:
            pool.shutdown(cancel_futures=True)
            self.sink.close()
        return run.finish(started)

    def _reconsider(self, scope: Scope) -> None:
        """Make pending the URLs an earlier crawl refused that ``scope`` takes (nothing is fetched)."""
        taken = [
            u.url
            for u in self.frontier.refusals(SCOPE_REASONS)
            if scope.refusal(u.url, u.kind, u.depth) is None
        ]
        if taken:
            self.frontier.requeue(taken)

    def _batch(self, claimed: list[CrawlUrl], run: _Run[R], pool: ThreadPoolExecutor) -> None:
        """Fetch the claimed URLs (``crawl.concurrency`` at a time) and use them in order."""
        window: deque[tuple[CrawlUrl, Future[_Outcome]]] = deque()
        run.planned, left, refused = run.report.pages, [], []
        for entry in claimed:
            refusal = run.scope.refusal(entry.url, entry.kind, entry.depth) if "page" in run.walks else None
            if refusal is not None:  # before robots.txt: a host outside the scope is never asked
                refused.append((entry.url, *refusal))
                run.refuse(entry.url, refusal[0])
            elif not run.takes(entry):
                left.append(entry.url)  # stays pending for the next run
            elif not self.politeness.allowed(entry.url):
                refused.append((entry.url, ROBOTS, ROBOTS_DISALLOWED))
                run.report.robots_skipped += run.refuse(entry.url, ROBOTS)
            else:
                window.append((entry, pool.submit(self._fetch, entry)))
                while len(window) >= self.settings.concurrency:
                    self._finish(*window.popleft(), run)
        if refused:
            self.frontier.refused(refused)
            self.progress("refused", len(refused))
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
            self.frontier.done(entry.url, fresh_until=self._fresh(entry, fetched))
            self.progress("unchanged", 1)
        elif run.spent():
            if self.lease:  # fetched while the last bytes of the budget came in: stays pending
                self.frontier.release([entry.url])
        else:
            self._use(entry, fetched, run)

    def _use(self, entry: CrawlUrl, fetched: Fetched, run: _Run[R]) -> None:
        run.report.bytes += len(fetched.data)
        about = None
        sha = hashlib.sha256(fetched.data).hexdigest()
        reader = self.readers.get(entry.kind)
        if reader is not None:
            try:
                named = list(reader(entry, fetched))
            except InputError as exc:  # not what the reader reads (a listing that is not JSON)
                self._failed(entry, exc, run.report)
                return
            self.frontier.add(named)
            self.sink.attach([(f.url, provenance(f)) for f in named if f.kind == "file"])
            run.report.pages += 1
            self.progress("page", 1)
        elif (page := self._page(entry, fetched)) is not None:
            found = list(frontier_entries(page, entry.depth + 1, run.scope))
            queued = self.frontier.add(found)
            # files indexed before from another page are seen on this one too (again: idempotent)
            self.sink.attach(
                [(f.url, provenance(f)) for f in found if f.kind == "file" and f.state == "pending"]
            )
            about = page_entry(entry, page)
            refused = sum(run.refuse(link.url, link.reason) for link in found if link.reason is not None)
            self.progress("refused_link", refused)  # never pending: counted, not a URL to finish
            if entry.sha256 is not None and sha != entry.sha256:  # changed: its files may have too
                files = [link.url for link in found if link.kind == "file" and link.state == "pending"]
                self._unlinked(entry.url, [link.url for link in found if link.kind == "file"])
                revalidated = self.frontier.revalidate(files, run.started)
                run.report.files_revalidated += revalidated
                queued += revalidated
            run.report.pages += 1
            self.progress("queued", queued)
            self.progress("page", 1)
        else:
            self._file(entry, fetched.data, sha != entry.sha256, run)
        headers = fetched.headers
        fresh = self._fresh(entry, fetched)
        self.frontier.done(entry.url, headers.get("etag"), headers.get("last-modified"), sha, fresh, about)

    def _unlinked(self, page_url: str, linked: Sequence[str]) -> None:
        """A changed page links some files no more: its places of them go, then its refs (in
        that order, so a kill between leaves the ref, and the page, fetched again, ends it)."""
        kept = set(linked)
        stale = [url for url in self.frontier.linked(page_url) if url not in kept]
        if stale:
            self.sink.detach([(url, page_url) for url in stale])
            self.frontier.unlink(page_url, linked)

    def _file(self, entry: CrawlUrl, data: bytes, changed: bool, run: _Run[R]) -> None:
        """Index a fetched file (unless its bytes are the same as last time) as seen on every
        page that links it, each with what that page says of it."""
        refs = self.frontier.refs(entry.url)
        if changed:
            self.sink.add_blobs(self._blobs(entry, data, refs), run.tally)
            used = {r.page_url for r in refs}
            refs = [r for r in self.frontier.refs(entry.url) if r.page_url not in used]  # found meanwhile
        self.sink.attach([(entry.url, provenance(r)) for r in refs])
        run.report.files += 1
        self.progress("file", 1)

    def _blobs(self, entry: CrawlUrl, data: bytes, refs: Sequence[CrawlUrl]) -> Iterator[Blob | Rejected]:
        """The candidate images of a file, at its own place (with what its first page says now),
        each followed by its places on the other pages that link the file."""
        own = next((r for r in refs if r.page_url == entry.page_url), entry)
        others = [provenance(r) for r in refs if r.page_url != entry.page_url]
        for item in blobs_in(data, provenance(own), self.archive):
            yield item
            for page in others:
                yield replace(item, where=on_page(item.where, page))

    def _page(self, entry: CrawlUrl, fetched: Fetched) -> Page | None:
        """A page's links and what it says of them; None for a file, or a "page" that is no
        document a page reader reads (an image linked as a page is indexed as a file)."""
        if entry.kind != "page":
            return None
        return read_page(fetched.data, fetched.url, fetched.content_type, self.settings.selectors)

    @staticmethod
    def _fresh(entry: CrawlUrl, fetched: Fetched) -> float | None:
        """A file's freshness from its response (a page is asked again by every re-crawl)."""
        return fresh_until(fetched.headers, time.time()) if entry.kind == "file" else None

    def _sitemaps(self, starts: Sequence[str], scope: Scope) -> list[CrawlUrl]:
        """The sitemaps that the start URLs' robots.txt files name, where the scope walks them."""
        named = (absolute(start, url) for start in starts for url in self.politeness.sitemaps(start))
        found = dict.fromkeys(url for url in named if url)
        walked = (url for url in found if scope.kind(Link(url)) == "page")
        return [CrawlUrl(url, "page", 1) for url in walked if scope.refusal(url, "page", 1) is None]

    def _fetch(self, entry: CrawlUrl) -> _Outcome:
        """Fetch one URL, with retries (runs in a worker thread: no frontier, no report)."""
        own = dict(self.headers(entry.url))
        sent = dict(own)
        if entry.etag:
            sent["If-None-Match"] = entry.etag
        if entry.last_modified:
            sent["If-Modified-Since"] = entry.last_modified
        for attempt in range(self.settings.retries + 1):
            try:
                with self.politeness.slot(entry.url):
                    return self.fetcher.get(entry.url, sent, secret=own), attempt
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

    def _failed(self, entry: CrawlUrl, exc: InputError, report: CrawlReport) -> None:
        reason = f"http_{exc.status}" if isinstance(exc, HTTPStatusError) and exc.status else exc.reason.value
        self.frontier.failed(entry.url, exc.detail, reason)
        report.failed += 1
        report.failures[exc.reason.value] += 1
        self.progress("url_failed", 1)


def page_entry(entry: CrawlUrl, page: Page) -> CrawlUrl | None:
    """What a page says of itself, to keep on its frontier row (None: it says nothing)."""
    if not (page.title or page.text or page.tags or page.extra):
        return None
    metadata = {"text": page.text, "tags": list(page.tags), "extra": dict(page.extra)}
    return replace(entry, title=page.title, metadata=metadata)


def on_page(place: Provenance, page: Provenance) -> Provenance:
    """``place`` (a file, or a member of it) as seen on another page: at ``{uri}#page={page}``,
    with what that page says of the file."""
    return replace(
        place,
        uri=f"{place.uri}{PAGE_MARK}{page.page_url}",
        page_url=page.page_url,
        title=page.title,
        text=page.text,
        tags=page.tags,
        extra=page.extra,
    )


def provenance(entry: CrawlUrl) -> Provenance:
    """Where a crawled file was found, with what its page (or API item) said of it."""
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
