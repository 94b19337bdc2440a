"""FAISS indexes: binary flat (Hamming) for hashes; flat, HNSW or IVF-PQ for float vectors.

A large hash index answers a query of a few rows (phash's image and mirror image) from a
shortlist: a scan of a short prefix of every code, then the candidates ranked on all
their bits (index/shortlist.py, ``index.hash_shortlist``).

Imported only when the FAISS backend is used; ``faiss`` is an optional import.

Float vectors are kept exact (flat) until ``index.flat_max``; past it ``auto``
builds HNSW, which answers in about a millisecond at a million vectors.  FAISS's
HNSW cannot delete, so removed ids are kept as tombstones (saved with the index,
filtered from results; ``lookalike rebuild`` compacts them away).  IVF-PQ is the
small-memory choice; it is trained on the vectors when the index is built.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from lookalike.index.base import BaseIndex, dense_kind
from lookalike.index.shortlist import SHORTLIST_SIZE, Shortlist
from lookalike.signals import Kind, Metric, SignalSpec

if TYPE_CHECKING:
    from lookalike.settings import IndexSettings

__all__ = ["FaissFactory", "FaissIndex", "dense_kind"]

#: IVF-PQ candidates per wanted result.  The planner re-scores every candidate exactly from the
#: stored features, so the true top 10 need only be among the index's top 4 x 100; with 128-byte
#: codes of 512-d vectors that holds (recall@10 0.97 at top 100, 1.00 at top 400: docs/benchmarks.md).
IVFPQ_OVERSAMPLE = 4
TOMBSTONES = "lookalike_removed"  # not a FAISS name: the side file's suffix
#: a binary index this many times larger than its shortlist searches a few query rows through it
#: (below, the exhaustive scan is already fast: 2 rows of 100k codes take about 1 ms)
SHORTLIST_FROM = 50
SHORTLIST_ROWS = 16  # more query rows at once (a duplicate search's batches) scan exhaustively


def _build_threads() -> int:
    """Threads for building (training, adding): every core this process may run on.

    A search sets FAISS's thread count to ``index.threads`` (1 by default); without this a
    rebuild in a process that had searched would link an HNSW graph on one core."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _empty(spec: SignalSpec, kind: str, options: IndexSettings | None) -> Any:
    # IDMap, not IDMap2: nothing looks a vector up by its id, and IDMap2's reverse map costs
    # about 35 bytes an image (docs/benchmarks.md, "Memory"); files saved with it still load
    if spec.kind is Kind.BINARY:
        return faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(spec.dim))
    metric = faiss.METRIC_INNER_PRODUCT if spec.metric is Metric.COSINE else faiss.METRIC_L2
    if kind == "hnsw":
        graph = faiss.IndexHNSWFlat(spec.dim, options.hnsw_m if options else 32, metric)
        graph.hnsw.efConstruction = options.hnsw_ef_construction if options else 80
        return faiss.IndexIDMap(graph)
    if kind == "ivfpq":
        return None  # made by train(): its list count depends on the data
    flat = (
        faiss.IndexFlatIP(spec.dim) if metric == faiss.METRIC_INNER_PRODUCT else faiss.IndexFlatL2(spec.dim)
    )
    return faiss.IndexIDMap(flat)


class FaissIndex(BaseIndex):
    """One FAISS index with id mapping (so ids are catalog image ids)."""

    def __init__(
        self,
        spec: SignalSpec,
        index: Any,
        threads: int = 1,
        options: IndexSettings | None = None,
        kind: str = "flat",
    ) -> None:
        self.spec, self._index, self._threads, self.options, self.kind = spec, index, threads, options, kind
        self._binary = spec.kind is Kind.BINARY
        self._removed: set[int] = set()  # tombstones of an HNSW index
        self._max_id = -1
        size = options.hash_shortlist if options is not None else SHORTLIST_SIZE
        self._shortlist = Shortlist(spec.dim // 8, size) if self._binary and size else None
        if index is not None and hasattr(index, "id_map"):
            ids = faiss.vector_to_array(index.id_map)
            self._max_id = int(ids.max()) if len(ids) else -1
        self._configure()

    def _configure(self) -> None:
        if self._index is None or self.options is None or self._binary:
            return
        inner = faiss.downcast_index(self._index.index) if hasattr(self._index, "index") else self._index
        if isinstance(inner, faiss.IndexHNSW):
            inner.hnsw.efSearch = self.options.ef_search
        ivf = faiss.try_extract_index_ivf(self._index) if self.kind == "ivfpq" else None
        if ivf is not None:
            ivf.nprobe = self.options.nprobe

    @property
    def oversample(self) -> int:
        """IVF-PQ's codes rank a query's close neighbours only roughly: ask it for more."""
        return IVFPQ_OVERSAMPLE if self.kind == "ivfpq" else 1

    @property
    def wants_training(self) -> int:
        """Vectors to train on before the first add (0: none needed)."""
        return 50_000 if self.kind == "ivfpq" and self._index is None else 0

    def train(self, vectors: np.ndarray) -> None:
        """Make and train an IVF-PQ index on a sample of the vectors it will hold."""
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        faiss.omp_set_num_threads(_build_threads())
        lists = int(max(1, min(4 * np.sqrt(len(x) * 20), len(x) // 39)))  # ~4 sqrt(n) for the full size
        m = max(1, self.spec.dim // 4)  # 4 dimensions a byte: 16x smaller than float32 (see IVFPQ_OVERSAMPLE)
        while self.spec.dim % m:
            m -= 1
        metric = faiss.METRIC_INNER_PRODUCT if self.spec.metric is Metric.COSINE else faiss.METRIC_L2
        quantizer = (
            faiss.IndexFlatIP(self.spec.dim)
            if metric == faiss.METRIC_INNER_PRODUCT
            else faiss.IndexFlatL2(self.spec.dim)
        )
        bits = int(min(8, max(1, np.floor(np.log2(max(len(x), 2))))))  # PQ learns 2**bits centroids
        index = faiss.IndexIVFPQ(quantizer, self.spec.dim, lists, m, bits, metric)
        index.train(x)
        self._index, self._quantizer = index, quantizer  # the quantizer must outlive the index
        self._configure()

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal) - len(self._removed)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self._index is None:
            self.train(vectors)  # a small collection told to use IVF-PQ: train on what there is
        if self.kind == "hnsw":
            # an id's content never changes (ids are not reused): a replayed add is already there
            revived = {int(i) for i in ids} & self._removed
            self._removed -= revived
            keep = np.array([int(i) > self._max_id for i in ids], dtype=bool)
            ids, vectors = ids[keep], vectors[keep]
        elif len(ids) and ids.min() <= self._max_id:
            # re-adding an id replaces it, as in every backend; new catalog ids only grow, so the
            # costly remove (FAISS rebuilds its id map) is skipped for them
            self.remove(ids)
        if not len(ids):
            return
        self._max_id = max(self._max_id, int(ids.max()))
        dtype = np.uint8 if self._binary else np.float32
        rows = np.ascontiguousarray(vectors, dtype=dtype)
        faiss.omp_set_num_threads(_build_threads())
        self._index.add_with_ids(rows, ids)
        if self._shortlist is not None:
            self._shortlist.extend(rows)

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids) or not len(self):
            return 0
        if self.kind == "hnsw":
            present = set(faiss.vector_to_array(self._index.id_map).tolist())
            new = {int(i) for i in ids} & present - self._removed
            self._removed |= new
            return len(new)
        if self._shortlist is not None:
            self._shortlist.forget()  # the codes after a removed one move down
        return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(queries)
        if self._index is None or not len(self):
            return self._pad(np.empty((n, 0), np.float32), np.empty((n, 0), np.int64), k)
        faiss.omp_set_num_threads(self._threads)
        if self._shortlisted(n, k):
            codes, ids = self._binary_arrays()
            found_d, found_i = self._shortlist.search(codes, ids, np.asarray(queries, np.uint8), k)  # type: ignore[union-attr]
            return self._pad(found_d, found_i, k)
        dtype = np.uint8 if self._binary else np.float32
        wanted = k + min(len(self._removed), 4 * k)
        raw, ids = self._index.search(np.ascontiguousarray(queries, dtype=dtype), wanted)
        distances = raw.astype(np.float32)
        if self.spec.metric is Metric.L2:
            distances = np.sqrt(np.maximum(distances, 0.0))
        elif self.spec.metric is Metric.COSINE:
            distances = 1.0 - distances
        ids = ids.astype(np.int64)
        if self._removed:
            gone = np.isin(ids, np.fromiter(self._removed, dtype=np.int64))
            ids[gone] = -1
            order = np.argsort(ids < 0, axis=1, kind="stable")  # live results first, in their order
            ids, distances = np.take_along_axis(ids, order, 1), np.take_along_axis(distances, order, 1)
        ids, distances = ids[:, :k], distances[:, :k]
        distances[ids < 0] = np.inf
        return self._pad(distances, ids, k)

    def _shortlisted(self, rows: int, k: int) -> bool:
        """Whether a search of ``rows`` query rows goes through the shortlist (see index/shortlist.py)."""
        short = self._shortlist
        return (
            short is not None and rows <= SHORTLIST_ROWS and 4 * k <= short.size < len(self) // SHORTLIST_FROM
        )

    def _binary_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The flat binary index's codes (n, width) and ids (n), as views of FAISS's own memory."""
        flat: Any = faiss.downcast_IndexBinary(self._index.index)
        n, width = int(flat.ntotal), self.spec.dim // 8
        codes = faiss.rev_swig_ptr(flat.xb.data(), n * width).reshape(n, width)
        ids = faiss.rev_swig_ptr(self._index.id_map.data(), n)
        return codes, ids

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        if self._binary:
            faiss.write_index_binary(self._index, str(tmp))
        elif self._index is not None:
            faiss.write_index(self._index, str(tmp))
        else:
            return
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        removed = _tombstone_path(path)
        if self._removed:  # written first: a tombstone is true for ever (ids are never reused)
            with open(removed, "wb") as fh:
                np.save(fh, np.fromiter(sorted(self._removed), dtype=np.int64))
        else:
            removed.unlink(missing_ok=True)
        os.replace(tmp, path)


def _tombstone_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.{TOMBSTONES}.npy")


class FaissFactory:
    """Registers the FAISS backend."""

    name = "faiss"
    suffix = ".faiss"

    def __init__(self, options: IndexSettings | None = None) -> None:
        self.options = options

    def create(self, spec: SignalSpec, threads: int, size: int = 0) -> FaissIndex:
        kind = "flat" if spec.kind is Kind.BINARY else dense_kind(self.options, size)
        return FaissIndex(spec, _empty(spec, kind, self.options), threads, self.options, kind)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> FaissIndex:
        if spec.kind is Kind.BINARY:
            return FaissIndex(spec, faiss.read_index_binary(str(path)), threads, self.options)
        index = faiss.read_index(str(path))
        inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
        kind = (
            "hnsw"
            if isinstance(inner, faiss.IndexHNSW)
            else "ivfpq"
            if faiss.try_extract_index_ivf(index)
            else "flat"
        )
        loaded = FaissIndex(spec, index, threads, self.options, kind)
        removed = _tombstone_path(path)
        if removed.exists():
            loaded._removed = set(np.load(removed).tolist())
        return loaded
