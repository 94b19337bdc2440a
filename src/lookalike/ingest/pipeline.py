"""Ingestion: files → bytes → (process pool: decode + signals) → one writer → indexes.

Every step is idempotent.  A file whose size and mtime are unchanged is not
read; bytes the catalog already holds (same sha256) are not decoded; a file is
marked done in the same transaction as its last image, so a run killed at any
moment resumes where it stopped, with no duplicates and nothing lost.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookalike.catalog import Catalog
from lookalike.catalog.originals import OriginalStore
from lookalike.catalog.thumbnails import Thumbs
from lookalike.decode import DecodedImage, decode
from lookalike.errors import DecodeError
from lookalike.index import IndexSet
from lookalike.ingest.thumbnails import render
from lookalike.records import Box, Extracted, Failure, Provenance, TextField
from lookalike.settings import Settings
from lookalike.signals import Signal, SignalSet
from lookalike.sources.files import Blob, FileEntry, Rejected, blobs, fs_path, path_text, walk
from lookalike.sources.tiles import split

__all__ = ["IngestReport", "Ingester", "extract", "with_tiles"]

Progress = Callable[[str, int], None]  # (event, amount): "files_total", "file", "image", "failed"
CHUNK = 16  # most blobs per task sent to a worker process
CHUNK_BYTES = 4 << 20  # ...and most bytes, so a few large photos spread over the workers
POOL_BYTES = 16 << 20  # work worth starting worker processes for (or 4 * CHUNK blobs)


@dataclass
class IngestReport:
    """What one indexing run did."""

    files: int = 0
    unchanged: int = 0
    images_new: int = 0
    images_known: int = 0
    failed: int = 0
    retired: int = 0
    seconds: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "failures": dict(self.failures)}


def decode_size(settings: Settings, signals: Mapping[str, Signal]) -> int:
    """The long side every decode is asked for, at ingest and at query time alike.

    A JPEG's reduced-scale decode depends on it, so indexed and query features of
    the same file only agree when both paths ask for the same size.  Text signals (OCR)
    are left out: queries never run them, and one that reads a larger view gets a
    decode of its own (:func:`_views_for`).
    """
    indexed = SignalSet(signals).indexed().values()
    return max([settings.ingest.thumbnail_size, *(s.input_size for s in indexed)])


def extract(
    data: bytes,
    uri: str,
    settings: Settings,
    signals: Mapping[str, Signal],
    sha: str | None = None,
    tiles: bool = True,
) -> Extracted:
    """Decode once and run every signal; a decode failure becomes a recorded failure.

    With ``ingest.tiles`` on, a sprite or tile sheet also yields its tiles, extracted alike.
    """
    return extract_many([(sha or hashlib.sha256(data).hexdigest(), data, uri)], settings, signals, tiles)[0]


def extract_many(
    items: Sequence[tuple[str, bytes, str]],
    settings: Settings,
    signals: Mapping[str, Signal],
    tiles: bool = True,
) -> list[Extracted]:
    """Decode each (sha, data, uri) once, then run each signal over the batch (models embed in one call)."""
    need = decode_size(settings, signals)
    results: dict[int, Extracted] = {}
    decoded: list[tuple[int, DecodedImage]] = []
    for position, (sha, data, uri) in enumerate(items):
        try:
            decoded.append((position, decode(data, settings.decode, uri, need)))
        except DecodeError as exc:
            results[position] = Extracted(sha, len(data), failure=Failure(exc.reason, exc.detail))
    features: list[dict[str, tuple[int, bytes]]] = [{} for _ in decoded]
    texts: list[dict[str, tuple[TextField, ...]]] = [{} for _ in decoded]
    readers = SignalSet(signals).texts()
    for name, signal in signals.items():
        views = _views_for(signal, items, decoded, settings, need)
        for found, read, feature in zip(features, texts, signal.extract_batch(views), strict=True):
            found[name] = (signal.spec.version, signal.encode(feature))
            if name in readers:  # a text signal's words go to keyword search as well
                read[name] = tuple(readers[name].texts(feature))
    size = settings.ingest.thumbnail_size
    for (position, image), found, read in zip(decoded, features, texts, strict=True):
        sha, data, uri = items[position]
        thumbnail = render(image, size) if size else b""
        cut: tuple[tuple[Box, Extracted], ...] = ()
        if tiles and settings.ingest.tiles != "off":
            pieces = split(data, settings.ingest.tiles)
            tile_items = [
                (hashlib.sha256(tile).hexdigest(), tile, f"{uri}#tile={','.join(map(str, box))}")
                for box, tile in pieces
            ]
            extracted = extract_many(tile_items, settings, signals, tiles=False) if tile_items else []
            cut = tuple((box, ex) for (box, _), ex in zip(pieces, extracted, strict=True))
        results[position] = Extracted(
            sha,
            len(data),
            image.width,
            image.height,
            image.format,
            image.mode,
            found,
            None,
            thumbnail,
            cut,
            read,
        )
    return [results[position] for position in range(len(items))]


def _views_for(
    signal: Signal,
    items: Sequence[tuple[str, bytes, str]],
    decoded: list[tuple[int, DecodedImage]],
    settings: Settings,
    need: int,
) -> list[DecodedImage]:
    """The decoded images, decoded again at ``signal.input_size`` if it reads a larger view."""
    if signal.input_size <= need:
        return [image for _, image in decoded]
    views = []
    larger = settings.decode.model_copy(update={"work_size": max(settings.decode.work_size, signal.input_size)})
    for position, image in decoded:
        try:
            views.append(decode(items[position][1], larger, items[position][2], signal.input_size))
        except DecodeError:  # it decoded at the smaller size; read that
            views.append(image)
    return views


def with_tiles(
    batch: Iterable[tuple[Provenance, Extracted | Failure]],
) -> list[tuple[Provenance, Extracted | Failure]]:
    """The batch with each sheet followed by its tiles, seen at 'sheet#tile=x,y,w,h'."""
    out: list[tuple[Provenance, Extracted | Failure]] = []
    for where, outcome in batch:
        out.append((where, outcome))
        if isinstance(outcome, Extracted):
            for box, tile in outcome.tiles:
                place = Provenance(
                    f"{where.uri}#tile={','.join(map(str, box))}",
                    file=where.file,
                    member=where.member,
                    url=where.url,
                    page_url=where.page_url,
                    parent=outcome.sha256,
                    box=box,
                )
                out.append((place, tile))
    return out


# Worker processes build their signals once, in the initializer, from the settings.
_worker: dict[str, Any] = {}


#: Makes the named signals from the settings in a worker process (the composition root's
#: ``make_signals``; it must be importable by name, as a pool's initializer is).
SignalMaker = Callable[[Settings, Sequence[str]], Mapping[str, Signal]]


#: How often a worker process checks that the process that started it is still there.
ORPHAN_CHECK_SECONDS = 0.5


def _init_worker(make_signals: SignalMaker, settings: Settings, names: Sequence[str]) -> None:
    _exit_with_parent(os.getppid())
    if settings.models.threads == 0:  # one model thread per worker process: the processes are the parallelism
        settings = settings.model_copy(update={"models": settings.models.model_copy(update={"threads": 1})})
    _worker["settings"] = settings
    _worker["signals"] = make_signals(settings, names)


def _exit_with_parent(parent: int) -> None:
    """End this worker when its parent dies, even a ``kill -9``: an orphan is re-parented, so
    ``getppid`` changes.  A thread that polls, rather than a parent-death signal, because that
    signal follows the thread that forked, which may end long before the parent does."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="lookalike-orphan-check", daemon=True).start()


def _extract_chunk(items: list[tuple[str, bytes, str]]) -> list[Extracted]:
    return extract_many(items, _worker["settings"], _worker["signals"])


def _chunks(work: list[tuple[str, bytes, str]]) -> Iterator[list[tuple[str, bytes, str]]]:
    """Tasks of at most CHUNK blobs and, past the first blob, at most CHUNK_BYTES."""
    chunk: list[tuple[str, bytes, str]] = []
    size = 0
    for item in work:
        if chunk and (len(chunk) == CHUNK or size + len(item[1]) > CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += len(item[1])
    if chunk:
        yield chunk


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
        self._pool: Executor | None = None
        self._in_flight: set[str] = set()

    def run(
        self,
        paths: Sequence[Path],
        metadata: Mapping[str, Provenance] | None = None,
        retire: bool = True,
    ) -> IngestReport:
        started, report = time.monotonic(), IngestReport()
        entries = list(walk(paths, exclude=[self.settings.home], follow=self.settings.ingest.follow_symlinks))
        self.progress("files_total", len(entries))
        roots = [path_text(p.resolve()) for p in paths]
        scan_id = self.catalog.scans.begin(roots)
        self.indexes.open_all()
        try:
            self._ingest(entries, scan_id, report)
        finally:
            self._close_pool()
            self.indexes.catch_up()
            self.indexes.save()
        if retire:
            report.retired = len(
                retire_unseen(self.catalog, [r for r in roots if Path(fs_path(r)).is_dir()], scan_id)
            )
        if metadata:
            self.annotate(metadata, entries)
        self.indexes.catch_up()
        self.indexes.save()
        report.seconds = time.monotonic() - started
        self.catalog.scans.finish(scan_id, {k: v for k, v in report.as_dict().items() if isinstance(v, int)})
        return report

    def annotate(self, metadata: Mapping[str, Provenance], entries: Sequence[FileEntry] = ()) -> int:
        """Attach sidecar metadata; an entry whose path is not found matches by file name."""
        by_name: dict[str, str | None] = {}
        for entry in entries:
            name = os.path.basename(entry.path)
            by_name[name] = None if name in by_name else entry.path
        found = self.catalog.texts.annotate_many(list(metadata.items()))  # one transaction, not one each
        by_file_name = [
            (target, where)
            for uri, where in metadata.items()
            if uri not in found and (target := by_name.get(os.path.basename(uri)))
        ]
        return len(found) + len(self.catalog.texts.annotate_many(by_file_name))

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

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        self._close_pool()

    def _ingest(self, entries: Sequence[FileEntry], scan_id: int, report: IngestReport) -> None:
        self._pipeline(self._batches(entries, scan_id, report), scan_id, report)

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
        self, entries: Sequence[FileEntry], scan_id: int, report: IngestReport
    ) -> Iterator[list[Blob | Rejected | FileEntry]]:
        """Blobs of changed files, with each file's entry after its last blob as a 'done' mark."""
        batch: list[Blob | Rejected | FileEntry] = []
        unchanged: list[str] = []
        size = self.settings.ingest.batch_size
        for entry in entries:
            report.files += 1
            if entry.skipped is None and self.catalog.scans.unchanged(entry.path, entry.size, entry.mtime):
                unchanged.append(entry.path)
                report.unchanged += 1
                self.progress("file", 1)
                continue
            for item in blobs(entry, self.settings.archive):
                batch.append(item)
                if len(batch) >= size:
                    yield batch
                    batch = []
            batch.append(entry)
            if len(unchanged) >= size:
                self.catalog.scans.mark_seen(unchanged, scan_id)
                unchanged = []
        self.catalog.scans.mark_seen(unchanged, scan_id)
        if batch:
            yield batch

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
        futures: dict[str, Future[list[Extracted]]] = {}
        work = [(sha, data, uri) for sha, (data, uri) in todo]
        pool = self._get_pool(work)
        for chunk in _chunks(work):
            future: Future[list[Extracted]]
            if pool is None:
                future = Future()
                future.set_result(extract_many(chunk, self.settings, self.signals))
            else:
                future = pool.submit(_extract_chunk, chunk)
            for sha, _, _ in chunk:
                futures[sha] = future
        return futures

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
        for where, outcome in pending.outcomes:
            if isinstance(outcome, str):  # a sha: new content, or known to the catalog or a batch before
                sha = outcome
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
        every = [*results.values(), *(tile for ex in results.values() for _, tile in ex.tiles)]
        self.thumbs.put((ex.sha256, ex.thumbnail) for ex in every if ex.thumbnail)
        if self.originals is not None:
            for sha, data in pending.keep.items():
                if sha in results and results[sha].failure is None:
                    self.originals.put(sha, data)
        done = [(e.path, e.size, e.mtime) for e in pending.files_done]
        with self.catalog.transaction():  # the files are done exactly when their images are recorded
            new_ids = self.catalog.images.record(with_tiles(batch), scan_id)
            self.catalog.scans.files_done(done, scan_id or 0)
        report.images_new += len(new_ids)
        report.images_known += usable - len(new_ids)  # usable places whose content was not new
        self.indexes.catch_up()
        self.progress("file", len(pending.files_done))

    def _get_pool(self, work: list[tuple[str, bytes, str]]) -> Executor | None:
        """The worker pool, started once the work is big enough to repay starting it."""
        workers = self.settings.ingest.workers or os.cpu_count() or 1
        big = len(work) >= 4 * CHUNK or sum(len(d) for _, d, _ in work) >= POOL_BYTES
        if self._pool is None and workers > 1 and big and self.make_signals is not None:
            # fork starts workers in milliseconds and never re-imports the caller's main module
            # (forkserver and spawn do, which breaks scripts without a __main__ guard); elsewhere
            # than Linux fork is unsafe, so spawn it is.
            context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            self._pool = ProcessPoolExecutor(
                workers,
                context,
                initializer=_init_worker,
                initargs=(self.make_signals, self.settings, list(self.signals)),
            )
        return self._pool

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


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
