"""The vector index seam: add, remove, search a batch, save, load, count.

A backend writes ``search_batch`` and the storage methods; :class:`BaseIndex`
builds the single-query ``search`` on it.  Distances follow the signal's metric
and are always 'smaller is closer' (see :class:`lookalike.signals.Metric`);
missing neighbours have id -1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import numpy as np

from lookalike.signals import SignalSpec

if TYPE_CHECKING:
    from lookalike.settings import IndexSettings

__all__ = ["BaseIndex", "IndexFactory", "VectorIndex", "dense_kind", "replacing"]


class VectorIndex(Protocol):
    """What the engine needs of an index of one signal."""

    spec: SignalSpec

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: np.ndarray) -> int: ...
    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def save(self, path: Path) -> None: ...
    @property
    def oversample(self) -> int: ...
    def __len__(self) -> int: ...


class IndexFactory(Protocol):
    """A registered backend: makes empty indexes and loads saved ones."""

    name: str
    suffix: str

    def create(self, spec: SignalSpec, threads: int, size: int = 0) -> VectorIndex:
        """An empty index for about ``size`` vectors (a backend may choose its structure by size)."""
        ...

    def load(self, spec: SignalSpec, path: Path, threads: int) -> VectorIndex: ...


class BaseIndex:
    """Conveniences shared by every backend."""

    spec: SignalSpec

    @property
    def oversample(self) -> int:
        """How many times more candidates a caller that re-scores exactly should ask for: a lossy
        index (IVF-PQ) ranks near neighbours only roughly, so its true top k lies deeper."""
        return 1

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Nearest ``k`` of one query vector: (distances, ids)."""
        distances, ids = self.search_batch(np.asarray(query)[None, :], k)
        return distances[0], ids[0]

    @staticmethod
    def _pad(distances: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Widen results to k columns with id -1 where there were fewer neighbours."""
        if distances.shape[1] >= k:
            return distances, ids
        extra = k - distances.shape[1]
        n = distances.shape[0]
        return (
            np.hstack([distances, np.full((n, extra), np.inf, dtype=np.float32)]),
            np.hstack([ids, np.full((n, extra), -1, dtype=np.int64)]),
        )


def dense_kind(options: IndexSettings | None, size: int) -> str:
    """The structure of a float index for about ``size`` vectors: 'flat', 'hnsw' or 'ivfpq'."""
    chosen = options.dense if options is not None else "auto"
    if chosen != "auto":
        return chosen
    return "hnsw" if options is not None and size > options.flat_max else "flat"


@contextmanager
def replacing(path: Path, binary: bool = True) -> Iterator[IO[Any]]:
    """A file written beside ``path`` and moved over it once on disk: readers (and a restart
    after a crash) see the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb" if binary else "w", encoding=None if binary else "utf-8") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
