"""FAISS indexes: binary flat (Hamming) for hashes, flat L2 / inner product for vectors.

Imported only when the FAISS backend is used; ``faiss`` is an optional import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ..signals import Kind, Metric, SignalSpec
from .base import BaseIndex

__all__ = ["FaissFactory", "FaissIndex"]


def _empty(spec: SignalSpec) -> Any:
    if spec.kind is Kind.BINARY:
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(spec.dim))
    flat = faiss.IndexFlatIP(spec.dim) if spec.metric is Metric.COSINE else faiss.IndexFlatL2(spec.dim)
    return faiss.IndexIDMap2(flat)


class FaissIndex(BaseIndex):
    """One FAISS index with id mapping (so ids are catalog image ids)."""

    def __init__(self, spec: SignalSpec, index: Any, threads: int = 1) -> None:
        self.spec, self._index, self._threads = spec, index, threads
        self._binary = spec.kind is Kind.BINARY
        ids = faiss.vector_to_array(index.id_map)
        self._max_id = int(ids.max()) if len(ids) else -1

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) and ids.min() <= self._max_id:
            # re-adding an id replaces it, as in every backend; new catalog ids only grow, so the
            # costly remove (FAISS rebuilds its id map) is skipped for them
            self.remove(ids)
        if len(ids):
            self._max_id = max(self._max_id, int(ids.max()))
        dtype = np.uint8 if self._binary else np.float32
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=dtype), ids)

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids) or not len(self):
            return 0
        return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        faiss.omp_set_num_threads(self._threads)
        dtype = np.uint8 if self._binary else np.float32
        raw, ids = self._index.search(np.ascontiguousarray(queries, dtype=dtype), k)
        distances = raw.astype(np.float32)
        if self.spec.metric is Metric.L2:
            distances = np.sqrt(np.maximum(distances, 0.0))
        elif self.spec.metric is Metric.COSINE:
            distances = 1.0 - distances
        distances[ids < 0] = np.inf
        return distances, ids.astype(np.int64)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        if self._binary:
            faiss.write_index_binary(self._index, str(tmp))
        else:
            faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)


class FaissFactory:
    """Registers the FAISS backend."""

    name = "faiss"
    suffix = ".faiss"

    def create(self, spec: SignalSpec, threads: int) -> FaissIndex:
        return FaissIndex(spec, _empty(spec), threads)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> FaissIndex:
        reader = faiss.read_index_binary if spec.kind is Kind.BINARY else faiss.read_index
        return FaissIndex(spec, reader(str(path)), threads)
