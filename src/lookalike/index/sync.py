"""Keep each signal's index in step with the catalog's change log.

An index is a derived file.  Beside it a small JSON file records the last change
it applied; on open the index catches up from the log, and when the file is
missing, unreadable or made by another backend or signal version, it is rebuilt
from the stored features.  Applying a change twice is harmless (an add replaces),
so a crash between saving the index and its record only means a short replay.

A *shared* index (its factory says ``shared``: Milvus) lives on a server that many
processes use.  Its record is kept in the catalog (``index_state``) instead, and
catching it up happens under the catalog's lock for that index, so two processes
never apply the same changes out of order; each applies what the other has not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.catalog import Catalog
from lookalike.index.base import IndexFactory, VectorIndex, replacing
from lookalike.signals import Signal

__all__ = ["IndexSet"]


class IndexSet:
    """The indexes of a collection, one per signal, opened lazily."""

    def __init__(
        self,
        folder: Path,
        catalog: Catalog,
        signals: Mapping[str, Signal],
        factory: IndexFactory,
        threads: int = 1,
        factories: Mapping[str, IndexFactory] | None = None,
    ) -> None:
        """``factory`` makes every signal's index but those named in ``factories``
        (a signal that names its own kind of index, such as ``keypoints``)."""
        self.folder, self.catalog, self.signals = folder, catalog, signals
        self.factory, self.threads = factory, threads
        self.factories = dict(factories or {})
        self._open: dict[str, VectorIndex] = {}
        self._applied: dict[str, int] = {}
        self._dirty: set[str] = set()
        #: Keep the indexes of this machine (files) up to date.  A worker process, which never
        #: searches, turns this off and maintains only shared indexes.
        self.maintain_local = True
        #: Catch up on every :meth:`get`.  A multi-threaded host (the web service) turns
        #: this off and calls :meth:`catch_up` itself while no search runs, because an
        #: index must not change under a concurrent search.
        self.auto_catch_up = True

    def _paths(self, name: str) -> tuple[Path, Path]:
        stem = self._stem(name)
        return self.folder / f"{stem}{self.factory_for(name).suffix}", self.folder / f"{stem}.json"

    def _stem(self, name: str) -> str:
        return f"{name}.v{self.signals[name].spec.version}"

    def shared(self, name: str) -> bool:
        """Whether the index of ``name`` lives on a server that other processes share."""
        return bool(getattr(self.factory_for(name), "shared", False))

    def _maintained(self) -> list[str]:
        return [n for n in self.signals if self.maintain_local or self.shared(n)]

    def _turn(self, name: str) -> AbstractContextManager[None]:
        """Held while a shared index changes or records itself (other processes wait); nothing
        for this machine's own files."""
        return self.catalog.lock(self._stem(name)) if self.shared(name) else nullcontext()

    def _meta(self, name: str) -> dict[str, Any]:
        if self.shared(name):
            return self.catalog.index_states.get(self._stem(name))
        return _read_json(self._paths(name)[1])

    def factory_for(self, name: str) -> IndexFactory:
        """The backend that makes the index of signal ``name``."""
        return self.factories.get(name, self.factory)

    def get(self, name: str) -> VectorIndex:
        """The index of a signal, caught up with the catalog (see :attr:`auto_catch_up`)."""
        if name not in self._open:
            self._open[name] = self._load(name)
        if self.auto_catch_up:
            self.catch_up([name])
        return self._open[name]

    def _load(self, name: str) -> VectorIndex:
        data_path = self._paths(name)[0]
        meta = self._meta(name)
        factory = self.factory_for(name)
        same = meta.get("backend") == factory.name and meta.get("transform") == _transform(self.signals[name])
        if same and (data_path.exists() or self.shared(name)):
            try:
                index = factory.load(self.signals[name].spec, data_path, self.threads)
                self._applied[name] = int(meta["applied_seq"])
                return index
            except Exception:  # an unreadable derived file is rebuilt, never trusted
                pass
        return self._build(name)

    def _build(self, name: str) -> VectorIndex:
        if not self.shared(name):
            return self._fill(name)  # saved with the others (``save``)
        with self._turn(name):  # others must see the new collection and its record together
            index = self._fill(name)
            self._record(name, index)
            return index

    def _fill(self, name: str) -> VectorIndex:
        signal = self.signals[name]
        spec = signal.spec
        size = self.catalog.features.count(spec.name, spec.version)
        index = self.factory_for(name).create(spec, self.threads, size)
        applied = self.catalog.changes.last_seq()  # later changes are replayed; replay is idempotent
        sample = getattr(index, "wants_training", 0)
        if sample and size:  # a first pass for the sample a trained index (IVF-PQ) learns from
            rows: list[np.ndarray] = []
            for batch in self.catalog.features.iterate(spec.name, spec.version):
                rows += [signal.index_rows(signal.decode(p))[0] for _, p in batch[:: max(1, size // sample)]]
                if len(rows) >= sample:
                    break
            index.train(signal.index_vectors(np.stack(rows)))  # type: ignore[attr-defined]
        for batch in self.catalog.features.iterate(spec.name, spec.version):
            self._add(index, signal, batch)
        self._applied[name] = applied
        self._dirty.add(name)
        return index

    @staticmethod
    def _add(index: VectorIndex, signal: Signal, batch: list[tuple[int, bytes]]) -> None:
        parts = [signal.index_rows(signal.decode(payload)) for _, payload in batch]
        ids = np.repeat(np.array([i for i, _ in batch], dtype=np.int64), [len(p) for p in parts])
        index.add(ids, signal.index_vectors(np.vstack(parts)))

    def open_all(self) -> None:
        """Open (and catch up) every signal's index, so later changes are applied as they come."""
        for name in self._maintained():
            self.get(name)

    def catch_up(self, names: Iterable[str] | None = None) -> int:
        """Apply pending changes to the open indexes (or ``names``); returns how many."""
        applied = 0
        for name in list(names if names is not None else self._open):
            if not self.shared(name):
                applied += self._apply(name)
                continue
            if self.catalog.changes.last_seq() <= self._applied[name]:
                continue  # nothing new: no need to take the lock
            with self._turn(name):  # another process may have applied some
                self._applied[name] = max(self._applied[name], int(self._meta(name).get("applied_seq", 0)))
                done = self._apply(name)
                if done:
                    self._record(name, self._open[name])
                applied += done
        return applied

    def _apply(self, name: str) -> int:
        """Apply the changes logged after the last one this index applied."""
        applied = 0
        index, signal = self._open[name], self.signals[name]
        while changes := self.catalog.changes.since(self._applied[name]):
            last: dict[int, str] = {image_id: op for _, image_id, op in changes}
            removed = np.array([i for i, op in last.items() if op == "remove"], dtype=np.int64)
            index.remove(removed)
            wanted = [i for i, op in last.items() if op == "add"]
            found = self.catalog.features.get(signal.spec.name, signal.spec.version, wanted)
            index.remove(np.array([i for i in wanted if i not in found], dtype=np.int64))
            if found:
                self._add(index, signal, sorted(found.items()))
            self._applied[name] = changes[-1][0]
            self._dirty.add(name)
            applied += len(changes)
        return applied

    def _record(self, name: str, index: VectorIndex) -> None:
        """Save an index and then its record of the last change applied."""
        data_path, meta_path = self._paths(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        index.save(data_path)
        backend, transform = self.factory_for(name).name, _transform(self.signals[name])
        if self.shared(name):
            self.catalog.index_states.put(
                self._stem(name), backend, self._applied[name], transform, len(index)
            )
        else:
            record = {"backend": backend, "applied_seq": self._applied[name], "count": len(index)}
            _write_json(meta_path, {**record, "transform": transform})
        self._dirty.discard(name)

    def rebuild(self, names: Iterable[str] | None = None) -> dict[str, int]:
        """Build indexes afresh from the catalog's features and save them."""
        counts = {}
        for name in names if names is not None else self.signals:
            self._open[name] = self._build(name)
            counts[name] = len(self._open[name])
        self.save()
        return counts

    def save(self) -> None:
        """Write every changed index, then its record of the last change applied."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in sorted(self._dirty):
            with self._turn(name):
                self._record(name, self._open[name])

    def describe(self) -> dict[str, dict[str, Any]]:
        """Size on disk (None for a shared index: it lives on its server) and vector count of each index."""
        found = {}
        for name in self.signals:
            data_path = self._paths(name)[0]
            meta = self._meta(name)
            found[name] = {
                "backend": meta.get("backend", self.factory_for(name).name),
                "vectors": len(self._open[name]) if name in self._open else meta.get("count", 0),
                # a shared index lives on its server: the file here is only its marker
                "bytes": None if self.shared(name) else self._bytes(name, data_path),
                "applied_seq": self._applied.get(name, meta.get("applied_seq", 0)),
            }
        return found

    def _bytes(self, name: str, data_path: Path) -> int:
        """Bytes on disk of a file index, with the files beside it that its backend names."""
        if not data_path.exists():
            return 0
        files = getattr(self.factory_for(name), "files", None)  # a backend of more than one file
        try:
            paths: list[Path] = files(data_path) if files else [data_path]
        except Exception:  # an unreadable file counts as itself; loading it rebuilds it
            paths = [data_path]
        return sum(p.stat().st_size for p in paths if p.exists())


def _transform(signal: Signal) -> str | None:
    """What a signal's index vectors depend on besides its features (a whitening fit, say)."""
    value = getattr(signal, "transform_id", None)
    return value if isinstance(value, str) else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, value: dict[str, Any]) -> None:
    with replacing(path, binary=False) as fh:
        json.dump(value, fh)
