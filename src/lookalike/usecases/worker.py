"""``lookalike worker``: index what the catalog's job queue holds, side by side with other workers.

Jobs are files to index (queued by ``lookalike index --queue``), images to compute a
signal for (``lookalike index --ocr --queue``, a backfill in jobs of ``worker.batch``
images) and crawls to run (``lookalike crawl --queue``).  A worker claims a few file jobs at a time with a
lease that a heartbeat renews while it works, indexes them through the same
:class:`~lookalike.ingest.Ingester` as ``lookalike index``, and marks them done.
A worker that dies leaves its lease to expire; another takes the jobs again, and
since recording is idempotent (content hashes, one occurrence per place, files
marked done in the commit of their last image) nothing is indexed twice.  A crawl
job is shared: every idle worker joins it, taking frontier URLs under leases,
until the frontier has nothing pending.

Workers write the catalog and keep shared indexes (Milvus) in step; they never
search, so they keep no index files of their own.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookalike.app import App, make_signals
from lookalike.errors import LookalikeError
from lookalike.ingest.pipeline import Ingester, IngestReport
from lookalike.signals import SignalSet
from lookalike.sources.files import fs_path, walk
from lookalike.usecases.crawl import crawl
from lookalike.usecases.ingest import compute, lacking

__all__ = ["Worker", "WorkerReport", "default_name"]

Log = Callable[[str], None]


def default_name() -> str:
    """host:pid, so that a job's worker can be found."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerReport:
    """What one worker did."""

    name: str
    files: int = 0
    images_new: int = 0
    images_known: int = 0
    failed: int = 0
    jobs_failed: int = 0
    backfilled: int = 0  # features computed for images indexed before (backfill jobs)
    crawls: int = 0
    seconds: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Worker:
    """Takes jobs from the collection's catalog until stopped, or until none are left (``drain``)."""

    def __init__(self, app: App, name: str | None = None, log: Log | None = None) -> None:
        self.app, self.catalog = app, app.catalog
        self.options = app.settings.worker
        self.name = name or default_name()
        self.log = log or (lambda line: None)
        self.stop = threading.Event()
        self._made: dict[tuple[str, ...], SignalSet] = {}
        app.indexes.maintain_local = False  # a worker never searches

    def run(self, drain: bool = False) -> WorkerReport:
        """Work until :attr:`stop` is set or, with ``drain``, until no job is pending."""
        started, report = time.monotonic(), WorkerReport(self.name)
        scan_id = self.catalog.scans.begin([f"worker {self.name}"])
        ingester = Ingester(
            self.catalog,
            self.app.signals,
            self.app.settings,
            self.app.indexes,
            self.app.thumbs,
            originals=self.app.originals,
            make_signals=make_signals,
        )
        self.app.indexes.open_all()
        try:
            while not self.stop.is_set():
                if self._files(ingester, scan_id, report) or self._backfills(report) or self._crawls(report):
                    continue
                if drain and not self.catalog.jobs.left():
                    break
                self.stop.wait(self.options.poll)
        finally:
            ingester.close()
            self.app.indexes.save()
            report.seconds = time.monotonic() - started
            counts = {k: v for k, v in report.as_dict().items() if isinstance(v, int)}
            self.catalog.scans.finish(scan_id, counts)
        return report

    def _files(self, ingester: Ingester, scan_id: int, report: WorkerReport) -> bool:
        """Index one claim of file jobs; False when there were none to claim."""
        options = self.options
        jobs = self.catalog.jobs.claim(
            self.name, ["file"], options.batch, options.lease, options.max_attempts
        )
        if not jobs:
            return False
        entries, done = [], []
        for job in jobs:
            path = Path(fs_path(job.key))
            found = list(walk([path])) if path.is_file() else []
            if found:
                entries += found
                done.append(job.id)
            else:
                self.catalog.jobs.finish([job.id], f"no such file: {job.key}")
                report.jobs_failed += 1
        ingested = IngestReport()
        with self._heartbeat(done):
            ingester.index_entries(entries, scan_id, ingested)
        self.catalog.jobs.finish(done)
        report.files += ingested.files
        report.images_new += ingested.images_new
        report.images_known += ingested.images_known
        report.failed += ingested.failed
        for reason, n in ingested.failures.items():
            report.failures[reason] = report.failures.get(reason, 0) + n
        self.log(
            f"{self.name}: {len(done)} files, {ingested.images_new} new images, {ingested.failed} failed"
        )
        return True

    def _backfills(self, report: WorkerReport) -> bool:
        """Compute the features one backfill job names for its images; False when there was none."""
        options = self.options
        jobs = self.catalog.jobs.claim(self.name, ["backfill"], 1, options.lease, options.max_attempts)
        for job in jobs:
            names = [str(n) for n in job.payload.get("signals", ())]
            try:
                chosen = self._signals(names)
            except LookalikeError as exc:  # a signal this worker cannot make (a model it lacks)
                self.catalog.jobs.finish([job.id], str(exc))
                report.jobs_failed += 1
                continue
            with self._heartbeat([job.id]):
                done = compute(self.app, chosen, lacking(self.app, chosen, job.payload.get("ids", ())))
            self.catalog.jobs.finish([job.id])
            report.backfilled += sum(done["computed"].values())
            report.failed += done["failed"] + sum(done["signal_failed"].values())
            self.log(f"{self.name}: backfill {job.key}: {done['computed']}")
        return bool(jobs)

    def _signals(self, names: Sequence[str]) -> SignalSet:
        """The signals a backfill job names: the collection's own, or made for it (``index --ocr
        --queue`` names a signal the workers' settings may not list)."""
        have = self.app.signals
        if all(n in have for n in names):
            return SignalSet({n: have[n] for n in names})
        key = tuple(sorted(names))
        if key not in self._made:
            self._made[key] = make_signals(self.app.settings, names, self.app.plugins)
        return self._made[key]

    def _crawls(self, report: WorkerReport) -> bool:
        """Join a pending crawl; False when there is none.  A crawl is done when its frontier is."""
        for job in self.catalog.jobs.pending("crawl"):
            options = dict(job.payload)
            starts: Sequence[str] = options.pop("starts", job.key.split())
            crawled = crawl(self.app, starts, lease=self.options.lease, **options)
            report.crawls += 1
            report.images_new += crawled.images_new
            report.failed += crawled.failed + crawled.images_failed
            self.log(f"{self.name}: crawl of {job.key}: {crawled.pages} pages, {crawled.files} files")
            counts = self.catalog.frontier.counts()
            if not any(c["pending"] for c in counts.values()):
                self.catalog.jobs.finish([job.id])
            return crawled.pages + crawled.files > 0
        return False

    @contextmanager
    def _heartbeat(self, ids: Sequence[int]) -> Iterator[None]:
        """Renew the leases on ``ids`` while the block runs."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.options.lease / 3):
                self.catalog.jobs.extend(ids, self.name, self.options.lease)

        thread = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
