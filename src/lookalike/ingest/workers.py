"""Extraction in worker processes: chunks of work sent to a pool that pays for itself.

The pool starts only once the work is big enough (``POOL_BYTES`` or four chunks), with
``ingest.workers`` processes (0: one per core); each process makes its own signals once.
Without a way to make signals there (``make_signals``), or with one worker, extraction
stays in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

from lookalike.ingest.extract import extract_many
from lookalike.records import Extracted
from lookalike.settings import Settings
from lookalike.signals import Signal

__all__ = ["CHUNK", "CHUNK_BYTES", "Extractor", "SignalMaker"]

CHUNK = 16  # most blobs per task sent to a worker process
CHUNK_BYTES = 4 << 20  # ...and most bytes, so a few large photos spread over the workers
POOL_BYTES = 16 << 20  # work worth starting worker processes for (or 4 * CHUNK blobs)

Work = list[tuple[str, bytes, str]]  # (key, bytes, uri): the key comes back as Extracted.sha256


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


def _extract_chunk(items: list[tuple[str, bytes, str]], tiles: bool, thumbnails: bool) -> list[Extracted]:
    return extract_many(items, _worker["settings"], _worker["signals"], tiles, thumbnails)


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


class Extractor:
    """Runs :func:`extract_many` over work, in worker processes once the work repays starting them."""

    def __init__(
        self,
        settings: Settings,
        signals: Mapping[str, Signal],
        make_signals: SignalMaker | None = None,
        tiles: bool = True,
        thumbnails: bool = True,
    ) -> None:
        self.settings, self.signals, self.make_signals = settings, signals, make_signals
        self.tiles, self.thumbnails = tiles, thumbnails
        self._pool: Executor | None = None

    def submit(self, work: Work) -> dict[str, Future[list[Extracted]]]:
        """Start extracting ``work``; each key's future gives its chunk's results."""
        futures: dict[str, Future[list[Extracted]]] = {}
        pool = self._get_pool(work)
        for chunk in _chunks(work):
            future: Future[list[Extracted]]
            if pool is None:
                future = Future()
                future.set_result(
                    extract_many(chunk, self.settings, self.signals, self.tiles, self.thumbnails)
                )
            else:
                future = pool.submit(_extract_chunk, chunk, self.tiles, self.thumbnails)
            for key, _, _ in chunk:
                futures[key] = future
        return futures

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _get_pool(self, work: Work) -> Executor | None:
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
