"""``lookalike watch`` and ``serve --watch``: keep the collection in step with folders as they change.

The watch starts first, then one pass over the whole folders catches up with what changed
while nothing watched (the mark and sweep of ``lookalike index``); from then on each batch of
events is a pass over the paths it names (see :mod:`lookalike.usecases.reconcile`).  A watcher
killed at any moment loses nothing: every pass commits as it goes, and the catch-up at the next
start finds whatever the lost batch would have done.  A pass that fails (the catalog went away)
is said, and a catch-up pass is tried again every :data:`RETRY_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookalike.app import App, build, make_signals
from lookalike.errors import LookalikeError
from lookalike.ingest.pipeline import Ingester
from lookalike.settings import Settings
from lookalike.sources.files import path_text
from lookalike.sources.watch import changes, watched
from lookalike.usecases.reconcile import Pass, Reconciler

__all__ = ["RETRY_SECONDS", "Background", "Pass", "WatchStatus", "Watcher"]

#: Seconds between catch-up passes after a pass failed.
RETRY_SECONDS = 5.0

Log = Callable[[str], None]


@dataclass
class WatchStatus:
    """Where a watcher stands: for ``stats`` and the collection page."""

    folders: list[str]
    queue: bool = False
    state: str = "starting"  # starting, catching up, watching, stopped, failed
    started_at: float = field(default_factory=time.time)
    passes: int = 0  # passes that changed something, the catch-up included
    totals: dict[str, int] = field(default_factory=dict)
    last: dict[str, Any] | None = None  # the latest pass that changed something, with its time
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Watcher:
    """Watches ``folders`` for the collection of ``app`` until :attr:`stop` is set."""

    def __init__(
        self,
        app: App,
        folders: Sequence[str | Path],
        queue: bool | None = None,
        on_pass: Callable[[Pass], None] | None = None,
        log: Log | None = None,
        processes: bool = True,
    ) -> None:
        """``queue`` (default ``watch.queue``): leave new and changed files to workers.
        ``processes`` off: extraction stays in this process (a watcher inside the web service)."""
        self.app, self.settings = app, app.settings
        self.roots = watched(folders)
        self.queue = self.settings.watch.queue if queue is None else queue
        self.on_pass = on_pass or (lambda done: None)
        self.log = log or (lambda line: None)
        self.stop = threading.Event()
        self.status = WatchStatus([path_text(r) for r in self.roots], self.queue)
        if self.queue:
            app.indexes.maintain_local = False  # like a worker: the searchers catch up themselves
        self.pipeline = Ingester(
            app.catalog,
            app.signals,
            app.settings,
            app.indexes,
            app.thumbs,
            originals=app.originals,
            make_signals=make_signals if processes else None,
        )
        self.reconciler = Reconciler(app, self.roots, self.queue, self.pipeline)
        self._saved_at = time.monotonic()
        self._retry_at: float | None = None

    def run(self) -> WatchStatus:
        """Catch up, then follow the folders' changes until :attr:`stop`; returns the final status."""
        self.app.indexes.open_all()
        try:
            for batch in changes(self.roots, self.settings.watch, self.stop, exclude=[self.settings.home]):
                if batch is None or self._retry_due():  # the watch is in place: events show the rest
                    self.status.state = "catching up"
                    self._pass(self.roots, catch_up=True)
                elif batch:
                    self._pass(sorted(batch))
                self._save(due=True)
        finally:
            self.pipeline.close()
            self._save(due=False)
            if self.status.state != "failed":
                self.status.state = "stopped"
        return self.status

    def _pass(self, scope: Sequence[str | Path], catch_up: bool = False) -> None:
        try:
            done = self.reconciler.run(scope, catch_up)
        except LookalikeError as exc:
            self.status.error = f"{type(exc).__name__}: {exc}"
            self.log(f"watch: a pass failed ({exc}); catching up again in {RETRY_SECONDS:.0f} s")
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return
        self._retry_at, self.status.error = None, None
        if done.touched or done.failed or catch_up:
            self.status.passes += 1
            for key, value in done.as_dict().items():
                if isinstance(value, int) and not isinstance(value, bool):
                    self.status.totals[key] = self.status.totals.get(key, 0) + value
            self.status.last = {**done.as_dict(), "at": time.time()}
            self.on_pass(done)
        self.status.state = "watching"  # once the catch-up is reported

    def _retry_due(self) -> bool:
        return self._retry_at is not None and time.monotonic() >= self._retry_at

    def _save(self, due: bool) -> None:
        """Write this machine's index files: every ``watch.save_seconds`` while watching, and at the end."""
        if due and time.monotonic() - self._saved_at < self.settings.watch.save_seconds:
            return
        try:
            self.app.indexes.save()
        except (LookalikeError, OSError) as exc:  # derived files: the next save or start rebuilds them
            self.log(f"watch: could not save the indexes: {exc}")
        self._saved_at = time.monotonic()


class Background:
    """A watcher in a thread of its own, with its own hold on the collection (``serve --watch``).

    It writes the catalog like a ``lookalike index`` run beside the service, which catches up
    with its changes before each search; it keeps no index of its own and extracts in its thread.
    """

    def __init__(self, settings: Settings, folders: Sequence[str | Path], log: Log | None = None) -> None:
        self.settings, self.folders = settings, watched(folders)
        self.log = log or (lambda line: None)
        self.status = WatchStatus([path_text(f) for f in self.folders], settings.watch.queue)
        self._watcher: Watcher | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lookalike-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            app = build(self.settings)
        except (LookalikeError, OSError) as exc:
            self.status.state, self.status.error = "failed", f"cannot open the collection: {exc}"
            self.log(f"watch: {self.status.error}")
            return
        try:
            app.indexes.maintain_local = False  # the service's own indexes follow the catalog
            self._watcher = Watcher(app, self.folders, log=self.log, processes=False)
            self._watcher.status = self.status
            if self._stop.is_set():
                return
            self._watcher.run()
        except LookalikeError as exc:
            self.status.state, self.status.error = "failed", str(exc)
            self.log(f"watch: stopped: {exc}")
        finally:
            app.close()
