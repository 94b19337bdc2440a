"""A descriptor index: many binary rows per image, mapped to images by offsets.

Local-feature signals (``keypoints``) index every descriptor of an image.  The
rows of one image are contiguous; a sorted array of each image's first row and
``np.searchsorted`` map a row found by FAISS back to its image, with no id map
inside FAISS and no database round trip.  Removing an image marks its rows dead
(a tombstone); searches ask FAISS for as many more neighbours as there are dead
rows, so answers stay exact, and the arrays are compacted once dead rows pass
``COMPACT_ROWS``.  Small collections use an exact binary flat index; past
``IVF_ROWS`` descriptors the index is rebuilt as a binary IVF (inverted lists
over k-means centroids, ``nprobe`` lists searched), which trades a little
recall for search time that grows far slower than the collection.

It satisfies :class:`VectorIndex` with repeated ids: ``add`` takes one image id
per row, and ``search_batch`` returns, for each query descriptor, the image ids
of its nearest stored descriptors, as :class:`BruteIndex` does for the same rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from lookalike.index.base import BaseIndex, replacing
from lookalike.signals import Kind, SignalSpec

__all__ = ["DescriptorFactory", "DescriptorIndex"]

COMPACT_ROWS = 4096
IVF_ROWS = 100_000  # about 400 images; a flat search of 1,000 query descriptors over 142k took 0.5 s
IVF_NPROBE = 4  # at 100k images: 0.69 s a crop query, recall as at 16 probes (2.5 s); docs/benchmarks.md


class DescriptorIndex(BaseIndex):
    """Binary descriptors of many images in one FAISS index, rows mapped to images by offsets."""

    def __init__(self, spec: SignalSpec, threads: int = 1, ivf_rows: int = IVF_ROWS) -> None:
        if spec.kind is not Kind.BINARY:
            raise ValueError(f"{spec.name}: a descriptor index holds binary rows")
        self.spec, self._threads, self._ivf_rows = spec, threads, ivf_rows
        self._width = spec.row_width
        self._rows = np.empty((0, self._width), dtype=np.uint8)
        self._pending: list[np.ndarray] = []  # rows added to FAISS but not yet to _rows
        self._pending_count = 0
        self._starts = np.empty(0, dtype=np.int64)  # first row of each block, sorted
        self._owners = np.empty(0, dtype=np.int64)  # image id of each block
        self._live: dict[int, int] = {}  # image id -> its block
        self._dead_rows = 0
        self._dead = np.empty(0, dtype=bool)  # per block
        self._index: Any = faiss.IndexBinaryFlat(spec.dim)

    # ---- size ---------------------------------------------------------------------------

    @property
    def total_rows(self) -> int:
        return len(self._rows) + self._pending_count

    def __len__(self) -> int:
        """Live descriptor rows."""
        return self.total_rows - self._dead_rows

    @property
    def structure(self) -> str:
        """'flat' (exact) or 'ivf' (inverted lists)."""
        return "ivf" if isinstance(self._index, faiss.IndexBinaryIVF) else "flat"

    def images(self) -> int:
        return len(self._live)

    def memory_bytes(self) -> int:
        """Bytes held: the rows (FAISS keeps one copy, this index another for compaction) and offsets."""
        return 2 * self.total_rows * self._width + 17 * len(self._starts)

    # ---- changes ------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.uint8)
        if not len(ids):
            return
        self.remove(np.unique(ids))  # re-adding an image replaces its rows
        order = np.argsort(ids, kind="stable")  # one contiguous block per image
        ids, vectors = ids[order], vectors[order]
        new_ids, first = np.unique(ids, return_index=True)
        base = self.total_rows
        self._starts = np.concatenate([self._starts, base + first])
        self._owners = np.concatenate([self._owners, new_ids])
        self._dead = np.concatenate([self._dead, np.zeros(len(new_ids), dtype=bool)])
        blocks = len(self._owners) - len(new_ids) + np.arange(len(new_ids))
        self._live.update(zip(new_ids.tolist(), blocks.tolist(), strict=True))
        self._pending.append(vectors)
        self._pending_count += len(vectors)
        self._index.add(vectors)
        if not isinstance(self._index, faiss.IndexBinaryIVF) and self.total_rows >= self._ivf_rows:
            self._rebuild()

    def remove(self, ids: np.ndarray) -> int:
        """Mark the images' rows dead; returns how many rows (as the brute-force index does)."""
        removed = 0
        for image_id in np.asarray(ids, dtype=np.int64).tolist():
            block = self._live.pop(image_id, None)
            if block is None:
                continue
            self._dead[block] = True
            rows = self._block_rows(block)
            self._dead_rows += rows
            removed += rows
        if self._dead_rows > COMPACT_ROWS:
            self._rebuild()
        return removed

    def _block_rows(self, block: int) -> int:
        end = self._starts[block + 1] if block + 1 < len(self._starts) else self.total_rows
        return int(end - self._starts[block])

    def _flush(self) -> None:
        if self._pending:
            self._rows = np.vstack([self._rows, *self._pending])
            self._pending, self._pending_count = [], 0

    def _rebuild(self) -> None:
        """Drop dead rows and make the FAISS index afresh (IVF once large enough)."""
        self._flush()
        sizes = np.diff(np.append(self._starts, len(self._rows)))
        keep_blocks = ~self._dead
        keep_rows = np.repeat(keep_blocks, sizes)
        self._rows = np.ascontiguousarray(self._rows[keep_rows])
        sizes = sizes[keep_blocks]
        self._owners = self._owners[keep_blocks]
        self._starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if len(sizes) else sizes
        self._dead = np.zeros(len(self._owners), dtype=bool)
        self._live = {int(i): b for b, i in enumerate(self._owners.tolist())}
        self._dead_rows = 0
        self._index = self._make(self._rows)

    def _make(self, rows: np.ndarray) -> Any:
        index: Any
        if len(rows) < self._ivf_rows:
            index = faiss.IndexBinaryFlat(self.spec.dim)
        else:
            lists = int(min(1024, max(256, 4 * np.sqrt(len(rows)))))  # training time grows with lists
            index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(self.spec.dim), self.spec.dim, lists)
            sample = rows[np.random.default_rng(0).choice(len(rows), min(len(rows), 48 * lists), False)]
            faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))
            index.train(sample)
            index.nprobe = IVF_NPROBE
        if len(rows):
            index.add(rows)
        return index

    # ---- search -------------------------------------------------------------------------

    def owners(self, rows: np.ndarray) -> np.ndarray:
        """Image id of each row number (-1 for -1 and for dead rows)."""
        rows = np.asarray(rows, dtype=np.int64)
        blocks = np.searchsorted(self._starts, rows, side="right") - 1
        valid = (rows >= 0) & (blocks >= 0)
        blocks = np.where(valid, blocks, 0)
        found = np.where(valid, self._owners[blocks] if len(self._owners) else -1, -1)
        if self._dead_rows and len(self._dead):
            found = np.where(self._dead[blocks], -1, found)
        return np.asarray(found, dtype=np.int64)

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For each query descriptor, its ``k`` nearest live descriptors as (Hamming distances, image ids)."""
        n = len(queries)
        if not len(self) or not n:
            return self._pad(np.empty((n, 0), np.float32), np.empty((n, 0), np.int64), k)
        faiss.omp_set_num_threads(self._threads)
        wide = min(k + self._dead_rows, self.total_rows)
        raw, rows = self._index.search(np.ascontiguousarray(queries, dtype=np.uint8), wide)
        owners = self.owners(rows)
        distances = raw.astype(np.float32)
        distances[owners < 0] = np.inf
        if self._dead_rows:  # move dead rows to the end, keeping the order of the rest
            order = np.argsort(owners < 0, axis=1, kind="stable")
            distances = np.take_along_axis(distances, order, axis=1)
            owners = np.take_along_axis(owners, order, axis=1)
        distances, owners = distances[:, :k], owners[:, :k]
        return self._pad(distances, owners, k)

    # ---- storage ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        self._flush()
        with replacing(path) as fh:
            np.savez(fh, rows=self._rows, starts=self._starts, owners=self._owners, dead=self._dead)

    @classmethod
    def load(
        cls, spec: SignalSpec, path: Path, threads: int = 1, ivf_rows: int = IVF_ROWS
    ) -> DescriptorIndex:
        index = cls(spec, threads, ivf_rows)
        with np.load(path) as data:
            index._rows = np.ascontiguousarray(data["rows"], dtype=np.uint8)
            index._starts, index._owners = data["starts"], data["owners"]
            index._dead = data["dead"]
        if index._dead.any():
            index._rebuild()
        else:
            index._live = {int(i): b for b, i in enumerate(index._owners.tolist())}
            index._index = index._make(index._rows)
        return index


class DescriptorFactory:
    """Registers the descriptor index (signals name it as their ``index_backend``)."""

    name = "descriptors"
    suffix = ".desc.npz"

    def create(self, spec: SignalSpec, threads: int) -> DescriptorIndex:
        return DescriptorIndex(spec, threads)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> DescriptorIndex:
        return DescriptorIndex.load(spec, path, threads)
