"""Ingestion: files → bytes → (process pool: decode + signals) → one writer → indexes.

Every step is idempotent.  A file whose size and mtime are unchanged is not
read; bytes the catalog already holds (same sha256) are not decoded; a file is
marked done in the same transaction as its last image, so a run killed at any
moment resumes where it stopped, with no duplicates and nothing lost.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookalike.catalog import Catalog
from lookalike.catalog.originals import OriginalStore
from lookalike.catalog.thumbnails import Thumbs
from lookalike.index import IndexSet
from lookalike.ingest.extract import with_tiles
from lookalike.ingest.workers import Extractor, SignalMaker
from lookalike.records import Extracted, Failure, Provenance
from lookalike.settings import Settings
from lookalike.signals import Signal
from lookalike.sources.files import Blob, FileEntry, Listing, Rejected, blobs, fs_path, path_text, walk

__all__ = ["IngestReport", "Ingester", "Progress", "Reader", "retire_unseen"]

Progress = Callable[[str, int], None]  # (event, amount): "files_total", "file", "image", "failed"
#: Reads changed entries: each with the images in it (a listing source's ``read``).
Reader = Callable[[Iterable[FileEntry]], Iterator[tuple[FileEntry, Iterable[Blob | Rejected]]]]


@dataclass
class IngestReport:
    """What one indexing run did.

    Every file is counted once: ``files = unchanged + not_images + files_read``; every image
    (place) found in the files read once: ``images_new + images_known + failed``, the tiles and
    frames cut from new sheets and videos among them.
    """

    files: int = 0
    unchanged: int = 0  # not read: the same size and time as when it was indexed
    not_images: int = 0  # read, but no image in it (a .txt, a .json, an archive of documents)
    images_new: int = 0
    images_known: int = 0
    failed: int = 0
    retired: int = 0
    seconds: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    missing: list[str] = field(default_factory=list)  # named paths that are not there
    metadata: list[str] = field(default_factory=list)  # the sidecar files applied
    metadata_matched: int = 0  # places a sidecar describes
    metadata_changed: int = 0  # of those, places whose metadata it changed

    @property
    def files_read(self) -> int:
        return self.files - self.unchanged - self.not_images

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "files_read": self.files_read, "failures": dict(self.failures)}

    def merge(self, other: IngestReport) -> None:
        """Add the counts of another run (another target of the same command) to these."""
        for name, value in other.__dict__.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                setattr(self, name, getattr(self, name) + value)
        self.failures.update(other.failures)


@dataclass
class _Pending:
    """A batch on its way: outcomes known now, extractions still running."""

    outcomes: list[tuple[Provenance, Extracted | Failure | str]]
    futures: dict[str, Future[list[Extracted]]]
    files_done: list[FileEntry]
    known: dict[str, Failure | None]  # content the catalog holds, with its failure if it failed
    keep: dict[str, bytes]  # new content whose original is kept if it decodes


class Ingester:
    """Indexes files into a catalog and keeps the indexes up to date."""

    def __init__(
        self,
        catalog: Catalog,
        signals: Mapping[str, Signal],
        settings: Settings,
        indexes: IndexSet,
        thumbs: Thumbs,
        progress: Progress | None = None,
        originals: OriginalStore | None = None,
        make_signals: SignalMaker | None = None,
    ) -> None:
        """``make_signals`` makes the signals of worker processes; without it, extraction stays in
        this process."""
        self.catalog, self.signals, self.settings, self.indexes = catalog, signals, settings, indexes
        self.make_signals = make_signals
        self.thumbs, self.originals = thumbs, originals
        self.progress = progress or (lambda event, n: None)
        self._extractor = Extractor(settings, signals, make_signals)
        self._in_flight: set[str] = set()

    def run(
        self,
        paths: Sequence[Path],
        metadata: Mapping[str, Provenance] | None = None,
        retire: bool = True,
    ) -> IngestReport:
        started = time.monotonic()
        entries = list(walk(paths, exclude=[self.settings.home], follow=self.settings.ingest.follow_symlinks))
        roots = [path_text(p.resolve()) for p in paths]
        folders = [r for r in roots if Path(fs_path(r)).is_dir()] if retire else []
        report, scan_id = self._scan(roots, entries, folders, None)
        if metadata:
            report.metadata_matched, report.metadata_changed = self.annotate(metadata, entries)
        return self._finish(report, scan_id, started)

    def run_listed(self, root: str, listing: Listing, read: Reader, retire: bool = True) -> IngestReport:
        """Index what a listing source found (a bucket): as :meth:`run` for folders, but each
        changed entry's images come from ``read``; with ``retire``, places under ``listing.root``
        that the listing no longer holds are removed."""
        started = time.monotonic()
        under = [listing.root] if retire and listing.root is not None else []
        report, scan_id = self._scan([root], listing.entries, under, read)
        return self._finish(report, scan_id, started)

    def _scan(
        self,
        roots: Sequence[str],
        entries: Sequence[FileEntry],
        retire_under: Sequence[str],
        read: Reader | None,
    ) -> tuple[IngestReport, int]:
        """One indexing run over ``entries``, then the sweep of what it did not see under ``retire_under``."""
        report = IngestReport()
        self.progress("files_total", len(entries))
        scan_id = self.catalog.scans.begin(roots)
        self.indexes.open_all()
        try:
            self._pipeline(self._batches(entries, scan_id, report, read), scan_id, report)
        finally:
            self._extractor.close()
            self.indexes.catch_up()
            self.indexes.save()
        if retire_under:
            report.retired = len(retire_unseen(self.catalog, retire_under, scan_id))
        return report, scan_id

    def _finish(self, report: IngestReport, scan_id: int, started: float) -> IngestReport:
        self.indexes.catch_up()
        self.indexes.save()
        report.seconds = time.monotonic() - started
        self.catalog.scans.finish(scan_id, {k: v for k, v in report.as_dict().items() if isinstance(v, int)})
        return report

    def annotate(
        self, metadata: Mapping[str, Provenance], entries: Sequence[FileEntry] = ()
    ) -> tuple[int, int]:
        """Attach sidecar metadata; an entry whose path is not found matches by file name.
        Returns how many places it describes, and how many of them it changed."""
        by_name: dict[str, str | None] = {}
        for entry in entries:
            name = os.path.basename(entry.path)
            by_name[name] = None if name in by_name else entry.path
        texts = self.catalog.texts
        found, changed = texts.annotate_changes(list(metadata.items()))  # one transaction, not one each
        by_file_name = [
            (target, where)
            for uri, where in metadata.items()
            if uri not in found and (target := by_name.get(os.path.basename(uri)))
        ]
        more, more_changed = texts.annotate_changes(by_file_name)
        return len(found) + len(more), changed + more_changed

    def index_entries(self, entries: Sequence[FileEntry], scan_id: int, report: IngestReport) -> None:
        """Index the given files (a worker's claimed jobs); what is committed when this returns."""
        self._pipeline(self._batches(entries, scan_id, report), scan_id, report)
        self.indexes.catch_up()

    def add_blobs(self, items: Iterable[Blob | Rejected], report: IngestReport) -> None:
        """Index candidate images that come from elsewhere than files on disk (URLs, a crawl).

        The same batches and commits as :meth:`run`; what is committed when this
        returns.  Call :meth:`close` when done, to stop the worker processes.
        """
        size = self.settings.ingest.batch_size
        self._pipeline(_batched(items, size), None, report)
        self.indexes.catch_up()

    def attach(self, places: Sequence[tuple[str, Provenance]]) -> int:
        """Content already indexed at a place (a crawled file), seen on another page too: see
        :meth:`~lookalike.catalog.images.Images.attach`.  Nothing is read or extracted again."""
        return self.catalog.images.attach(places)

    def detach(self, places: Sequence[tuple[str, str]]) -> int:
        """A page no longer links a file: its places of that file go (see
        :meth:`~lookalike.catalog.images.Images.detach`)."""
        return self.catalog.images.detach(places)

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        self._extractor.close()

    def _pipeline(
        self, batches: Iterable[list[Blob | Rejected | FileEntry]], scan_id: int | None, report: IngestReport
    ) -> None:
        """Extract one batch while the one before is committed."""
        pending: _Pending | None = None
        for batch in batches:
            started = self._start(batch, report)
            if pending is not None:
                self._commit(pending, scan_id, report)
            pending = started
        if pending is not None:
            self._commit(pending, scan_id, report)
        self._in_flight = set()

    def _batches(
        self, entries: Sequence[FileEntry], scan_id: int, report: IngestReport, read: Reader | None = None
    ) -> Iterator[list[Blob | Rejected | FileEntry]]:
        """Blobs of changed files, with each file's entry after its last blob as a 'done' mark."""
        batch: list[Blob | Rejected | FileEntry] = []
        size = self.settings.ingest.batch_size
        for entry, items in (read or self._file_blobs)(self._changed(entries, scan_id, report)):
            found = 0
            for item in items:
                found += 1
                batch.append(item)
                if len(batch) >= size:
                    yield batch
                    batch = []
            report.not_images += not found
            batch.append(entry)
        if batch:
            yield batch

    def _file_blobs(
        self, entries: Iterable[FileEntry]
    ) -> Iterator[tuple[FileEntry, Iterable[Blob | Rejected]]]:
        for entry in entries:
            yield entry, blobs(entry, self.settings.archive, self.settings.video)

    def _changed(
        self, entries: Sequence[FileEntry], scan_id: int, report: IngestReport
    ) -> Iterator[FileEntry]:
        """The entries to read; unchanged ones (same size and mtime, or ETag) are marked seen instead."""
        unchanged: list[str] = []
        size = self.settings.ingest.batch_size
        scans = self.catalog.scans
        for entry in entries:
            report.files += 1
            if entry.skipped is None and scans.unchanged(entry.path, entry.size, entry.mtime, entry.etag):
                unchanged.append(entry.path)
                report.unchanged += 1
                self.progress("file", 1)
                if len(unchanged) >= size:
                    scans.mark_seen(unchanged, scan_id)
                    unchanged = []
                continue
            yield entry
        scans.mark_seen(unchanged, scan_id)

    def _start(self, batch: list[Blob | Rejected | FileEntry], report: IngestReport) -> _Pending:
        """Hash the blobs, look them up, and send unknown content to the workers."""
        outcomes: list[tuple[Provenance, Extracted | Failure | str]] = []
        files_done: list[FileEntry] = []
        todo: dict[str, tuple[bytes, str]] = {}
        shas: list[str] = []
        for item in batch:
            if isinstance(item, FileEntry):
                files_done.append(item)
            elif isinstance(item, Rejected):
                outcomes.append((item.where, item.failure))
            else:
                sha = hashlib.sha256(item.data).hexdigest()
                outcomes.append((item.where, sha))
                shas.append(sha)
                todo.setdefault(sha, (item.data, item.where.uri))
        known = self.catalog.images.known(shas)
        for sha in [*known, *self._in_flight]:  # in flight: sent with the batch not yet committed
            todo.pop(sha, None)
        self._in_flight = set(todo)
        keep = {sha: data for sha, (data, uri) in todo.items() if self._keeps(uri)}
        return _Pending(outcomes, self._submit(list(todo.items())), files_done, known, keep)

    def _keeps(self, uri: str) -> bool:
        """Whether the original of content seen at ``uri`` is kept (``ingest.originals``)."""
        mode = self.settings.ingest.originals
        return self.originals is not None and (mode == "all" or (mode == "fetched" and "://" in uri))

    def _submit(self, todo: list[tuple[str, tuple[bytes, str]]]) -> dict[str, Future[list[Extracted]]]:
        return self._extractor.submit([(sha, data, uri) for sha, (data, uri) in todo])

    def _commit(self, pending: _Pending, scan_id: int | None, report: IngestReport) -> None:
        results: dict[str, Extracted] = {}
        for future in set(pending.futures.values()):
            for ex in future.result():
                results[ex.sha256] = ex
        unresolved = (
            {o for _, o in pending.outcomes if isinstance(o, str)} - results.keys() - pending.known.keys()
        )
        known = {**pending.known, **self.catalog.images.known(unresolved)}  # committed by the batch before
        batch: list[tuple[Provenance, Extracted | Failure]] = []
        usable = 0
        seen_again: list[tuple[str, str, str]] = []  # known content at a place: its tiles and frames stay
        for where, outcome in pending.outcomes:
            if isinstance(outcome, str):  # a sha: new content, or known to the catalog or a batch before
                sha = outcome
                if sha not in results and where.file is not None:
                    seen_again.append((where.uri, where.file, sha))
                outcome = results.get(sha) or Extracted(sha, 0, failure=known.get(sha))
            batch.append((where, outcome))
            failure = outcome if isinstance(outcome, Failure) else outcome.failure
            if failure is not None:
                report.failed += 1
                report.failures[failure.reason.value] += 1
                self.progress("failed", 1)
            else:
                usable += 1
                self.progress("image", 1)
        # thumbnails and originals first: a committed image always has them
        every = [*results.values(), *(part for ex in results.values() for _, part in (*ex.tiles, *ex.frames))]
        self.thumbs.put((ex.sha256, ex.thumbnail) for ex in every if ex.thumbnail)
        if self.originals is not None:
            for sha, data in pending.keep.items():
                if sha in results and results[sha].failure is None:
                    self.originals.put(sha, data)
        done = [(e.path, e.size, e.mtime, e.etag) for e in pending.files_done]
        with self.catalog.transaction():  # the files are done exactly when their images are recorded
            new_ids = self.catalog.images.record(with_tiles(batch), scan_id)
            if scan_id is not None:
                self.catalog.images.keep_parts(seen_again, scan_id)
            self.catalog.scans.files_done(done, scan_id or 0)
        parts = sum(p.failure is None for ex in results.values() for _, p in (*ex.tiles, *ex.frames))
        report.images_new += len(new_ids)
        report.images_known += usable + parts - len(new_ids)  # usable places whose content was not new
        self.indexes.catch_up()
        self.progress("file", len(pending.files_done))


def _batched(items: Iterable[Blob | Rejected], size: int) -> Iterator[list[Blob | Rejected | FileEntry]]:
    iterator = iter(items)
    while chunk := list[Blob | Rejected | FileEntry](itertools.islice(iterator, size)):
        yield chunk


def retire_unseen(catalog: Catalog, roots: Sequence[str], scan_id: int) -> list[int]:
    """Forget the files under ``roots`` that scan ``scan_id`` did not see, in one transaction;
    returns the ids of images no place shows any more."""
    with catalog.transaction():
        for root in roots:
            catalog.images.forget(root, before_scan=scan_id)
            catalog.scans.forget(root, before_scan=scan_id)
        return catalog.images.sweep()
