"""What the crawler needs from the rest of lookalike, as protocols: a frontier, and a sink.

The crawler sits below ingest and knows it only through :class:`Sink`, which the
:class:`~lookalike.ingest.Ingester` satisfies (and :class:`Tally`, which its
``IngestReport`` does); :class:`Frontier` is what it uses of the catalog's frontier.
The use case (:mod:`lookalike.usecases.crawl`) passes the real ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from lookalike.records import CrawlUrl, Provenance
from lookalike.sources.fetch import Fetched
from lookalike.sources.files import Blob, Rejected

__all__ = ["Frontier", "Reader", "Sink", "Tally"]

#: Reads a fetched page of a kind other than web pages (a recipe's API page, see :mod:`.recipe`):
#: the frontier entries it names.  Raises InputError for a page it cannot read.
Reader = Callable[[CrawlUrl, Fetched], Iterable[CrawlUrl]]


class Tally(Protocol):
    """Counts of the images a sink took in, read once the crawl ends."""

    @property
    def images_new(self) -> int: ...

    @property
    def images_known(self) -> int: ...

    @property
    def failed(self) -> int: ...


T_contra = TypeVar("T_contra", bound=Tally, contravariant=True)


class Sink(Protocol[T_contra]):
    """Takes the candidate images of fetched files, counting them into a tally."""

    def add_blobs(self, items: Iterable[Blob | Rejected], report: T_contra) -> None:
        """Index ``items``, counting into ``report``; what is committed when this returns."""
        ...

    def attach(self, places: Sequence[tuple[str, Provenance]]) -> int:
        """Content indexed from the file at each ``source`` uri, seen on another page (``where``)
        too: record it there, with what that page says; returns how many places were written."""
        ...

    def detach(self, places: Sequence[tuple[str, str]]) -> int:
        """(source uri, page URL) each: that page no longer links the file, so its places of
        the file on that page go; returns how many."""
        ...

    def close(self) -> None:
        """The crawl is over: release what the sink holds (worker processes)."""
        ...


class Frontier(Protocol):
    """The URLs a crawl found and their states, shared by crawls that resume or run together."""

    def add(self, urls: Sequence[CrawlUrl]) -> int:
        """Add URLs not seen before (pending or refused); a refused one found pending becomes
        pending (not one refused by robots.txt); returns how many became pending."""
        ...

    def claim(self, limit: int, kinds: Sequence[str], lease: float) -> list[CrawlUrl]:
        """The next pending URLs of ``kinds``, leased for ``lease`` seconds (0: no lease)."""
        ...

    def release(self, urls: Sequence[str]) -> None:
        """End the leases of claimed URLs left for later."""
        ...

    def done(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        sha256: str | None = None,
        fresh_until: float | None = None,
        about: CrawlUrl | None = None,
    ) -> None:
        """Mark a URL done, with its validators, content hash and (a file) freshness; a page
        with what it says of itself (``about``: title and metadata)."""
        ...

    def refs(self, url: str) -> list[CrawlUrl]:
        """Every page that links the file at ``url``: entries of it with each page's metadata."""
        ...

    def linked(self, page_url: str) -> list[str]:
        """The files the page at ``page_url`` was found to link."""
        ...

    def unlink(self, page_url: str, keep: Sequence[str]) -> list[str]:
        """Forget the files a page links no more (all but ``keep``); returns them."""
        ...

    def failed(self, url: str, error: str, reason: str = "fetch_failed") -> None:
        """Mark a URL failed: why in words, and as a short code."""
        ...

    def refused(self, refusals: Sequence[tuple[str, str, str]]) -> None:
        """Mark claimed URLs refused (never fetched): (url, reason, detail) each."""
        ...

    def reset(self, recheck_files: bool = False) -> int:
        """Make pages (and failed files, stale files, every file with ``recheck_files``) pending
        again for a re-crawl; returns how many."""
        ...

    def revalidate(self, urls: Sequence[str], before: float) -> int:
        """Make done files among ``urls`` finished before ``before`` pending again; how many."""
        ...

    def refusals(self, reasons: Sequence[str]) -> list[CrawlUrl]:
        """The URLs refused for one of ``reasons`` (url, kind and depth filled in)."""
        ...

    def requeue(self, urls: Sequence[str]) -> int:
        """Make refused ``urls`` pending; returns how many."""
        ...

    def pending(self, kinds: Sequence[str]) -> int:
        """How many URLs of ``kinds`` are pending."""
        ...
