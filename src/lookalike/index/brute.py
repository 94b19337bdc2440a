"""Brute-force numpy index: the reference every other backend is tested against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lookalike.index.base import BaseIndex, replacing
from lookalike.signals import Kind, SignalSpec, distances

__all__ = ["BruteFactory", "BruteIndex"]


class BruteIndex(BaseIndex):
    """Every vector in one array; exact search by computing every distance."""

    def __init__(self, spec: SignalSpec) -> None:
        self.spec = spec
        width = spec.row_width
        dtype = np.uint8 if spec.kind is Kind.BINARY else np.float32
        self._ids = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, width), dtype=dtype)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        self.remove(ids)
        self._ids = np.concatenate([self._ids, ids])
        self._vectors = np.vstack([self._vectors, vectors.astype(self._vectors.dtype)])

    def remove(self, ids: np.ndarray) -> int:
        keep = ~np.isin(self._ids, np.asarray(ids, dtype=np.int64))
        removed = int((~keep).sum())
        if removed:
            self._ids, self._vectors = self._ids[keep], self._vectors[keep]
        return removed

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if not len(self._ids):
            return self._pad(
                np.empty((len(queries), 0), np.float32), np.empty((len(queries), 0), np.int64), k
            )
        d = distances(self.spec.metric, queries, self._vectors)
        k_eff = min(k, len(self._ids))
        part = np.argpartition(d, k_eff - 1, axis=1)[:, :k_eff]
        part_d = np.take_along_axis(d, part, axis=1)
        # ties broken by id so results are deterministic
        order = np.lexsort((self._ids[part], part_d), axis=1)
        top = np.take_along_axis(part, order, axis=1)
        return self._pad(np.take_along_axis(d, top, axis=1), self._ids[top], k)

    def save(self, path: Path) -> None:
        with replacing(path) as fh:
            np.savez(fh, ids=self._ids, vectors=self._vectors)

    @classmethod
    def load(cls, spec: SignalSpec, path: Path) -> BruteIndex:
        index = cls(spec)
        with np.load(path) as data:
            index._ids, index._vectors = data["ids"], data["vectors"]
        return index


class BruteFactory:
    """Registers the brute-force backend."""

    name = "brute"
    suffix = ".npz"

    def __init__(self, options: object = None) -> None:
        pass  # exact by construction: nothing to tune

    def create(self, spec: SignalSpec, threads: int, size: int = 0) -> BruteIndex:
        return BruteIndex(spec)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> BruteIndex:
        return BruteIndex.load(spec, path)
