"""The web service's hold on a collection: one gate for threads, searches with filters and pages.

No HTTP here.  Routes parse a request and call these methods in a worker thread;
every search goes through :meth:`Collection.search`, the same code the CLI runs.

Threads: many searches run at once, and an index must not change under them.
The gate is a readers-writer lock: searches read; adding, removing and catching
up with another process's writes (a ``lookalike index`` run, another server
worker) write.  The indexes are told not to catch up by themselves
(:attr:`IndexSet.auto_catch_up`); before each search the service compares the
catalog's last change with the last one it applied and catches up under the
write lock when they differ.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lookalike.api.errors import ApiError
from lookalike.api.facets import Filters, facet_counts, matches
from lookalike.api.queries import QueryImages, QueryStore, query_store
from lookalike.app import build
from lookalike.collection import Collection
from lookalike.errors import BackendError, InputError, LookalikeError, NotFoundError
from lookalike.records import Provenance
from lookalike.search.notes import notes
from lookalike.search.planner import Result
from lookalike.settings import Settings
from lookalike.signals import Kind
from lookalike.sources.fetch import Fetcher
from lookalike.usecases import dupes as duplicates
from lookalike.usecases import originals
from lookalike.usecases.browse import Browsed, Catalogues, flagged, left_out
from lookalike.usecases.crops import crop_search
from lookalike.usecases.search import SAFETY
from lookalike.usecases.watch import Background

__all__ = ["Page", "Query", "QueryImages", "ReadWriteLock", "Service"]

#: Seconds between attempts to open a collection that failed to open.
RETRY_SECONDS = 5.0
#: Most results one search may rank (offset + k, or the facet pool).
MAX_POOL = 1000
#: How long a search note about crop search is kept when the change log says nothing changed
#: (features written without a change entry are seen within this time at the latest).
CROP_NOTE_SECONDS = 30.0


class ReadWriteLock:
    """Many readers or one writer; a waiting writer holds back new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


@dataclass(frozen=True)
class Query:
    """One search: at most one image (bytes, URL or id), words, and how to page and filter."""

    image: bytes | None = None
    url: str | None = None
    image_id: int | None = None
    text: str | None = None
    k: int | None = None
    offset: int = 0
    signals: tuple[str, ...] | None = None
    collapse: bool = True
    filters: Filters = field(default_factory=dict)
    facets: bool = False
    include_junk: bool = False  # junk images (blank, tiny, spacer, placeholder) are left out by default
    safe: bool = False  # also leave out what the safety signal flagged (exposure)


@dataclass(frozen=True)
class Page:
    """A page of results, how many matched, and facet counts when asked for."""

    results: list[Result]
    total: int  # results that passed the filters, among the ranked pool
    offset: int
    k: int
    complete: bool  # the pool held every candidate: ``total`` is exact, not a lower bound
    facets: dict[str, list[tuple[str, int]]] | None = None
    notes: list[str] = field(default_factory=list)  # what to know beyond the results (search.notes)


class Service:
    """A collection as the web service uses it; opens it lazily and reopens after a failure."""

    def __init__(self, source: Collection | Settings) -> None:
        self._owned = not isinstance(source, Collection)
        self.settings: Settings = source if isinstance(source, Settings) else source.settings
        self._collection: Collection | None = None
        self._opening = threading.Lock()
        self._retry_at = 0.0
        self._error = ""
        self._gate = ReadWriteLock()
        self._applied = -1
        self._crops: tuple[int, float, str | None] | None = None  # (change, when, note): see _crop_note
        self.queries: QueryStore = query_store(self.settings)
        self.catalogues = Catalogues()
        #: The watcher of ``serve --watch``, whose state ``stats`` shows.
        self.watching: Background | None = None
        if isinstance(source, Collection):
            self._adopt(source)

    # ---- opening and following ----------------------------------------------------------

    def collection(self) -> Collection:
        """The open collection; raises :class:`BackendError` while it cannot be opened."""
        if self._collection is not None:
            return self._collection
        with self._opening:
            if self._collection is None:
                if time.monotonic() < self._retry_at:
                    raise BackendError(f"the collection is unavailable: {self._error}")
                try:
                    self._adopt(Collection(build(self.settings)))
                except (LookalikeError, OSError) as exc:
                    self._error = f"cannot open the collection in {self.settings.home}: {exc}"
                    self._retry_at = time.monotonic() + RETRY_SECONDS
                    raise BackendError(self._error) from exc
        assert self._collection is not None
        return self._collection

    def _adopt(self, collection: Collection) -> None:
        collection.indexes.auto_catch_up = False
        with self._gate.write():
            collection.indexes.open_all()
            collection.indexes.catch_up()
            self._applied = collection.catalog.changes.last_seq()
        self._collection = collection

    def close(self) -> None:
        """Close the collection if this service opened it."""
        if self._collection is not None and self._owned:
            with self._gate.write():
                self._collection.close()
            self._collection = None

    def _follow(self, collection: Collection) -> None:
        """Apply changes committed since the last search (by this or another process)."""
        last = collection.catalog.changes.last_seq()
        if last != self._applied:
            with self._gate.write():
                collection.indexes.catch_up()
                self._applied = last

    # ---- searching -----------------------------------------------------------------------

    def search(self, query: Query) -> Page:
        """Rank, filter and page; see :class:`Query`."""
        k = query.k or self.settings.search.k
        refine = bool(query.filters or query.facets)
        pool = min(max(query.offset + k, self.settings.serve.facet_pool if refine else 0), MAX_POOL)
        collection = self.collection()
        # Filters apply to images before near-identical ones are folded together, so a
        # group is shown by its best member that passes, not hidden by one that does not.
        ranked = self._rank(collection, query, pool, collapse=query.collapse and not refine)
        passed = [r for r in ranked if matches(r, query.filters)] if query.filters else ranked
        if refine and query.collapse:
            passed = [
                replace(
                    group[0],
                    collapsed=tuple(r.image_id for r in group[1:]),
                    collapsed_places=tuple((r.image_id, r.occurrences) for r in group[1:]),
                )
                for group in _grouped(collection, passed)
            ]
        facets = None
        if query.facets:
            groups = _grouped(collection, ranked) if query.collapse else [[r] for r in ranked]
            facets = facet_counts(groups, query.filters)
        shown = passed[query.offset : query.offset + k]
        return Page(
            results=shown,
            total=len(passed),
            offset=query.offset,
            k=k,
            complete=len(ranked) < pool,
            facets=facets,
            notes=self._notes(collection, query, shown) if query.offset == 0 else [],
        )

    def _notes(self, collection: Collection, query: Query, results: list[Result]) -> list[str]:
        by_image = any(x is not None for x in (query.image, query.url, query.image_id))
        content = list(collection.signals.content())
        crops = self._crop_note(collection) if by_image else None
        return notes(results, text=query.text, by_image=by_image, content=content, crops=crops)

    def _crop_note(self, collection: Collection) -> str | None:
        """What crop search lacks, kept until the catalog changes or for CROP_NOTE_SECONDS: it
        counts features over the whole catalog, which took most of a search's time at 100k."""
        last, now = self._applied, time.monotonic()
        kept = self._crops
        if kept is not None and kept[0] == last and now - kept[1] < CROP_NOTE_SECONDS:
            return kept[2]
        note = crop_search(collection.app).note
        self._crops = (last, now, note)
        return note

    def _rank(self, collection: Collection, query: Query, pool: int, collapse: bool) -> list[Result]:
        """The best ``pool`` results of the query, from :meth:`Collection.search`."""
        given = sum(x is not None for x in (query.image, query.url, query.image_id))
        if given > 1:
            raise ApiError(400, "bad_request", "give one image: an upload, an image URL or an id")
        text = (query.text or "").strip() or None
        if not given and not text:
            raise ApiError(400, "bad_request", "a search needs an image, an image URL, an image id or words")
        image = self.fetch(query.url) if query.url is not None else query.image
        self._follow(collection)
        try:
            with self._gate.read():
                return collection.search(
                    image,
                    text=text,
                    image_id=query.image_id,
                    k=pool,
                    signals=query.signals,
                    collapse=collapse,
                    include_junk=query.include_junk,
                    safe=query.safe,
                )
        except InputError as exc:
            if query.url is not None and exc.uri is None:
                raise type(exc)(exc.reason, exc.detail, query.url) from None
            raise

    def browse(
        self,
        sort: str,
        filters: Filters,
        offset: int,
        k: int,
        facets: bool,
        include_junk: bool = False,
        safe: bool = False,
    ) -> Browsed:
        """A page of the whole collection (no query), from a listing kept while the catalog is unchanged."""
        app = self.collection().app
        hidden = left_out(app, include_junk, safe)
        return flagged(app, self.catalogues.get(app).page(sort, filters, offset, k, facets, hidden))

    def fetch(self, url: str) -> bytes:
        """An image URL's bytes (public addresses only, within the fetch limits)."""
        with Fetcher(self.settings.fetch) as fetcher:
            return fetcher.get(url).data

    def neighbours(self, image_id: int, k: int, safe: bool = False) -> tuple[list[Result], list[Result]]:
        """(near-identical images, other similar images) of an indexed image, best first; with
        ``safe``, not those the safety signal flagged."""
        collection = self.collection()
        self._follow(collection)
        with self._gate.read():
            ranked = collection.search(image_id=image_id, k=k, collapse=False, safe=safe)
        near: list[Result] = []
        other: list[Result] = []
        for result in ranked:
            close = result.match is not None and result.match.tier in ("exact", "copy")
            (near if close else other).append(result)
        return near, other

    # ---- adding and removing -----------------------------------------------------------------

    def add(self, data: bytes, where: Provenance) -> tuple[int, bool]:
        """Add an image; returns (id, whether its content was new)."""
        collection = self.collection()
        with self._gate.write():
            added = collection.add(data, where)
            self._applied = collection.catalog.changes.last_seq()
        return added

    def remove(self, image_id: int) -> list[int]:
        collection = self.collection()
        with self._gate.write():
            removed = collection.remove(image_id)
            self._applied = collection.catalog.changes.last_seq()
        return removed

    # ---- looking around ----------------------------------------------------------------------

    def info(self, image_id: int) -> dict[str, Any]:
        return self.collection().info(image_id)

    def thumbnail(self, image_id: int) -> bytes:
        data = self.collection().thumbnail(image_id)
        if data is None:
            raise NotFoundError(f"image {image_id} has no thumbnail")
        return data

    def original(self, image_id: int) -> tuple[bytes, str]:
        return self.collection().original(image_id)

    def video_file(self, image_id: int) -> tuple[Path, str] | None:
        """A video's file on disk, to serve in ranges (None: not a video, or its file changed)."""
        return originals.video_file(self.collection().app, image_id)

    def dupes(
        self,
        max_bits: int | None = None,
        keep: Sequence[str] | None = None,
        include_junk: bool = False,
        crops: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Groups of the same picture, each with the image to keep and why (nothing is changed)."""
        collection = self.collection()
        self._follow(collection)
        with self._gate.read():
            return collection.dupes(max_bits, keep, include_junk, crops)

    def choose_dupes(self, key: str, choice: str, keep_id: int | None = None) -> dict[str, Any]:
        """Remember a reviewer's choice for a group of duplicates (the /dupes page)."""
        return duplicates.choose(self.collection().app, key, choice, keep_id)

    def stats(self, failures: int = 20, scans: int = 10) -> dict[str, Any]:
        """Counts, index sizes, disk use, the latest indexing runs and failed files."""
        collection = self.collection()
        self._follow(collection)
        with self._gate.read():
            facts = collection.stats()
        facts["scans"] = collection.catalog.scans.recent(scans)
        facts["failure_list"] = collection.catalog.images.failures(limit=failures) if failures else []
        facts["signal_failure_list"] = (
            collection.catalog.features.failures(limit=failures) if failures else []
        )
        if self.watching is not None:
            facts["watching"] = self.watching.status.as_dict()
        return facts

    def crawl_status(self) -> dict[str, Any]:
        """The crawl frontier: URLs by kind and state, by host with the reasons of refusals and failures."""
        collection = self.collection()
        with self._gate.read():
            return collection.crawl_status()

    def health(self) -> dict[str, Any]:
        """A cheap check that the catalog answers and the indexes are open."""
        collection = self.collection()
        self._follow(collection)
        with self._gate.read():
            vectors = {name: len(collection.indexes.get(name)) for name in collection.signals.indexed()}
        local = collection.signals.local()  # their indexes hold a row per keypoint, not per image
        images = max((n for name, n in vectors.items() if name not in local), default=0)
        return {"status": "ok", "last_change": self._applied, "vectors": vectors, "images": images}

    def safe_mode(self, asked: str | None) -> str | None:
        """What pages do with flagged exposure: ``asked`` (blur, hide or show), else the setting
        (``safety.page``); None where no safety signal runs (nothing is flagged), or where the
        collection cannot be opened (the page then says why, without this switch)."""
        try:
            collection = self.collection()
            running = collection.signals.flags(hiding=False)
            if not running and not collection.catalog.flags.raised(SAFETY):  # nothing ever flagged
                return None
        except LookalikeError:
            return None
        return asked or self.settings.safety.page

    def content_signals(self) -> list[str]:
        """Signals that find look-alikes by what the picture shows (a model's embedding)."""
        return list(self.collection().signals.content())

    def signal_bits(self) -> Mapping[str, int]:
        """Bits of each binary signal, for showing Hamming distances as 'n of N bits'."""
        return {
            name: s.spec.dim for name, s in self.collection().signals.items() if s.spec.kind is Kind.BINARY
        }


def _grouped(collection: Collection, results: list[Result]) -> list[list[Result]]:
    """Results in groups of near-identical ones, best first (the planner's collapse)."""
    groups = collection.planner.collapse([r.image_id for r in results], len(results))
    by_id = {r.image_id: r for r in results}
    return [[by_id[i], *(by_id[f] for f in folded)] for i, folded in groups.items()]
