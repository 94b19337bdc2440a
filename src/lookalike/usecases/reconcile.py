"""Bring the catalog in line with part of the disk: what a watched folder does with each batch.

A pass looks at a *scope* (the paths a batch of events names, or the watched folders whole
when the watcher starts) and, in one scan of the catalog:

- keeps files whose size and time are as indexed (marked seen, not read);
- moves the places of a file found at a new path with the same bytes (a rename or a move:
  the sha256 of the file at the new path is that of the image seen at the old one), keeping
  their image, features and metadata: nothing is extracted again;
- indexes new and changed files, in this process or, with ``watch.queue``, as jobs for
  ``lookalike worker`` processes, and drops the places of a changed archive's members that
  are gone;
- removes the places of files no longer there, then the images no place shows.

Every step commits on its own and is idempotent, so a pass cut short is finished by the next
one; the pass over the whole folders at start is the mark and sweep of ``lookalike index``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookalike.app import App
from lookalike.errors import InputError
from lookalike.ingest.pipeline import Ingester, IngestReport
from lookalike.records import Provenance
from lookalike.sources.files import FileEntry, fs_path, load_metadata, path_text, walk

__all__ = ["Pass", "Reconciler"]


@dataclass
class Pass:
    """What one pass did: files by what happened to them, then the images of the files read."""

    catch_up: bool = False  # the pass over the whole folders when the watcher starts
    added: int = 0  # files new to the catalog
    changed: int = 0  # files indexed before whose size or time changed
    moved: int = 0  # files at a new path with the same bytes: places moved, nothing read again
    removed: int = 0  # files no longer there
    unchanged: int = 0  # named by an event (or met at start) but as indexed: not read
    queued: int = 0  # with watch.queue: jobs for workers
    images_new: int = 0
    images_known: int = 0
    failed: int = 0
    retired: int = 0  # images no place shows any more
    seconds: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def touched(self) -> int:
        """Files whose record changed (what a person wants to hear about)."""
        return self.added + self.changed + self.moved + self.removed

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "failures": dict(self.failures)}


class Reconciler:
    """Passes over parts of the watched ``roots``, with one ingest pipeline kept between them."""

    def __init__(self, app: App, roots: Sequence[Path], queue: bool, pipeline: Ingester) -> None:
        self.app, self.catalog, self.settings = app, app.catalog, app.settings
        self.roots, self.queue, self.pipeline = list(roots), queue, pipeline
        self._texts = [path_text(r) for r in self.roots]
        self._sidecars: dict[str, tuple[float, dict[str, Provenance]]] = {}

    def run(self, scope: Sequence[str | Path], catch_up: bool = False) -> Pass:
        """One pass over ``scope`` (paths under the roots, there or gone); see the module's docstring."""
        started, done = time.monotonic(), Pass(catch_up=catch_up)
        scan_id = self.catalog.scans.begin(self._texts)
        paths = sorted({Path(p) for p in scope})
        present = [p for p in paths if os.path.lexists(p)]
        entries = list({e.path: e for e in self._walk(present)}.values())
        states = self.catalog.scans.states([e.path for e in entries])
        kept = [e.path for e in entries if e.skipped is None and states.get(e.path) == (e.size, e.mtime)]
        self.catalog.scans.mark_seen(kept, scan_id)
        done.unchanged = len(kept)
        seen, unchanged = {e.path for e in entries}, set(kept)
        todo = [e for e in entries if e.path not in unchanged]
        gone = [path_text(p) for p in paths if p not in present]
        vanished, folders = self._vanished(gone, seen, present, scan_id, catch_up)
        moved = self._move(vanished, todo, scan_id)
        done.moved = len(moved)
        todo = [e for e in todo if e.path not in moved]
        done.added = sum(e.path not in states for e in todo)
        done.changed = len(todo) - done.added
        self._index(todo, states, scan_id, done)
        done.removed = len(vanished) - len(moved)
        left = set(moved.values())
        self._remove([p for p in vanished if p not in left], folders, scan_id, catch_up, done)
        self._annotate(todo, catch_up)
        done.seconds = time.monotonic() - started
        counts = {k: v for k, v in done.as_dict().items() if isinstance(v, int) and not isinstance(v, bool)}
        self.catalog.scans.finish(scan_id, {**counts, "files": len(entries) + done.removed})
        return done

    def _vanished(
        self, gone: Sequence[str], seen: set[str], present: Sequence[Path], scan_id: int, catch_up: bool
    ) -> tuple[dict[str, tuple[int, float]], list[str]]:
        """The indexed files no longer there, with their (size, mtime); and the gone paths that were
        no indexed file (folders, most likely), under which whatever is recorded goes too.  Only
        folders are looked under (a scan of the file states each); a file is one lookup."""
        vanished = dict(self.catalog.scans.states(gone))
        folders = [p for p in gone if p not in vanished]
        under = [*folders, *(self._texts if catch_up else (path_text(p) for p in present if p.is_dir()))]
        for text in sorted(set(under)):
            for path, size, mtime in self.catalog.scans.unseen(text, scan_id):
                if path not in seen:
                    vanished[path] = (size, mtime)
        return vanished, folders

    def _walk(self, present: Sequence[Path]) -> list[FileEntry]:
        follow = self.settings.ingest.follow_symlinks
        return list(walk(present, exclude=[self.settings.home], follow=follow, within=self.roots))

    def _move(
        self, vanished: Mapping[str, tuple[int, float]], todo: Sequence[FileEntry], scan_id: int
    ) -> dict[str, str]:
        """Move the places of files found at a new path with the same bytes; returns {new: old}."""
        by_key: dict[tuple[int, float], list[str]] = defaultdict(list)
        for path, key in vanished.items():
            by_key[key].append(path)
        candidates = [
            (e, by_key[(e.size, e.mtime)]) for e in todo if e.skipped is None and (e.size, e.mtime) in by_key
        ]
        if not candidates:
            return {}
        shas = self.catalog.images.shas_at({p for _, olds in candidates for p in olds})
        moves: dict[str, str] = {}
        taken: set[str] = set()
        for entry, olds in candidates:
            options = [p for p in olds if p in shas and p not in taken]
            if not options:
                continue  # an archive, or a file that was not an image: indexed again instead
            sha = _sha256(entry.path)
            name = os.path.basename(entry.path)
            match = next(
                (p for p in sorted(options, key=lambda p: os.path.basename(p) != name) if shas[p] == sha),
                None,
            )
            if match is not None:
                moves[entry.path] = match
                taken.add(match)
        with self.catalog.transaction():  # each file moves whole: its places and its state together
            for new, old in moves.items():
                self.catalog.images.move(old, new)
                self.catalog.scans.move(old, new)
            self.catalog.scans.mark_seen(list(moves), scan_id)
        return moves

    def _index(self, todo: Sequence[FileEntry], states: Mapping[str, Any], scan_id: int, done: Pass) -> None:
        """Index new and changed files here, or queue them for workers (skipped entries are recorded here)."""
        if self.queue:
            files = [e for e in todo if e.skipped is None]
            done.queued = self.catalog.jobs.add("file", [(e.path, None) for e in files]) if files else 0
            self.catalog.scans.mark_seen([e.path for e in files], scan_id)  # kept until a worker has them
            todo = [e for e in todo if e.skipped is not None]
        if not todo:
            return
        report = IngestReport()
        self.pipeline.index_entries(todo, scan_id, report)
        # the members of a changed archive that it no longer holds
        self.catalog.images.forget_files([e.path for e in todo if e.path in states], before_scan=scan_id)
        done.images_new += report.images_new
        done.images_known += report.images_known
        done.failed += report.failed
        done.failures.update(report.failures)

    def _remove(
        self, vanished: Sequence[str], folders: Sequence[str], scan_id: int, catch_up: bool, done: Pass
    ) -> None:
        """Forget the files no longer there (and whatever is recorded under gone folders), then sweep."""
        if not (vanished or folders or catch_up or done.changed or done.moved):
            return
        with self.catalog.transaction():
            self.catalog.images.forget_files(vanished)
            self.catalog.scans.forget_files(vanished)
            for path in folders:
                self.catalog.images.forget(path)
                self.catalog.scans.forget(path)
            if catch_up:  # what a cut-short run left without a file state (part of an archive)
                for root in self._texts:
                    self.catalog.images.forget(root, before_scan=scan_id)
                    self.catalog.scans.forget(root, before_scan=scan_id)
            done.retired = len(self.catalog.images.sweep())
        self.app.indexes.catch_up()

    def _annotate(self, todo: Sequence[FileEntry], all_of_it: bool) -> None:
        """Apply each root's ``metadata.jsonl``: all of it when asked (at start, or when it changed),
        else what it says about the files just indexed."""
        for root in self.roots:
            sidecar = root / "metadata.jsonl"
            try:
                mtime = sidecar.stat().st_mtime
            except OSError:
                continue
            cached = self._sidecars.get(str(sidecar))
            if cached is None or cached[0] != mtime:
                try:
                    cached = (mtime, load_metadata(sidecar))
                except (OSError, InputError):
                    continue  # a sidecar being written: applied when it changes next
                self._sidecars[str(sidecar)] = cached
                all_of_it = True
            metadata = cached[1]
            if not all_of_it:
                files = {e.path for e in todo}
                metadata = {uri: w for uri, w in metadata.items() if uri.split("!/", 1)[0] in files}
            if metadata:
                self.pipeline.annotate(metadata, todo)


def _sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(fs_path(path), "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()
