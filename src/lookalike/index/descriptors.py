"""A descriptor index: many binary rows per image, each held in FAISS under its image's id.

Local-feature signals (``keypoints``) index every descriptor of an image.  FAISS
keeps each row with its image id, so a search answers image ids directly and
removing an image takes its rows out of FAISS at once (``remove_ids`` scans the
rows once per call; changes come in batches).  FAISS holds the only copy of the
rows: 32 bytes of descriptor and 8 of id each.  Small collections use an exact
binary flat index (behind an id map); past ``IVF_ROWS`` descriptors the index
becomes a binary IVF (inverted lists over k-means centroids, ``nprobe`` lists
searched), which trades a little recall for search time that grows far slower
than the collection.

Saving writes two files: the FAISS index, under a name new to each save, then
``path`` (an npz of the image ids, their row counts and the FAISS file's name);
older FAISS files are deleted after.  A crash in between leaves the old pair,
and a loader that finds the FAISS file missing, truncated or of another row count
raises :class:`BackendError`, so the index is rebuilt from the catalog.  Loading
memory-maps the FAISS file and never trains: the lists stay read-only, in the
page cache, until the first change copies them into memory (and FAISS's read-ahead
threads for mapped lists are turned off: on 2 cores they halved a search).  The IVF is trained
again only when the collection grew ``RETRAIN_GROWTH`` times past the rows it
was trained on.

It satisfies :class:`VectorIndex` with repeated ids: ``add`` takes one image id
per row, and ``search_batch`` returns, for each query descriptor, the image ids
of its nearest stored descriptors, as :class:`BruteIndex` does for the same rows.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from lookalike.errors import BackendError
from lookalike.index.base import BaseIndex, replacing
from lookalike.signals import Kind, SignalSpec

__all__ = ["DescriptorFactory", "DescriptorIndex"]

IVF_ROWS = 100_000  # about 400 images; a flat search of 1,000 query descriptors over 142k took 0.5 s
IVF_NPROBE = 4  # at 100k images: 0.69 s a crop query, recall as at 16 probes (2.5 s); docs/benchmarks.md
RETRAIN_GROWTH = 10  # centroids trained on a tenth of the rows or fewer are learnt again
MAX_LISTS = 2048  # at 100k images (25M rows) lists of 12,300 rows; 4,096 searched faster still but took 4x as long to fill
TRAIN_PER_LIST = 48  # training rows per list (FAISS warns below 39)
ID_BYTES = 8  # FAISS keeps an int64 id beside every row


class DescriptorIndex(BaseIndex):
    """Binary descriptors of many images in one FAISS index, each row under its image's id."""

    def __init__(self, spec: SignalSpec, threads: int = 1, ivf_rows: int = IVF_ROWS) -> None:
        if spec.kind is not Kind.BINARY:
            raise ValueError(f"{spec.name}: a descriptor index holds binary rows")
        self.spec, self._threads, self._ivf_rows = spec, threads, ivf_rows
        self._live: dict[int, int] = {}  # image id -> its rows
        self._index: Any = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(spec.dim))
        self._trained_rows = 0  # rows the IVF was trained among (0 while flat)
        self._mapped = False  # lists on a memory-mapped file: read-only until copied
        #: IVF trainings this object made (a loaded index starts at 0 and stays there).
        self.trainings = 0

    # ---- size ---------------------------------------------------------------------------

    @property
    def total_rows(self) -> int:
        return int(self._index.ntotal)

    def __len__(self) -> int:
        """Descriptor rows."""
        return self.total_rows

    @property
    def structure(self) -> str:
        """'flat' (exact) or 'ivf' (inverted lists)."""
        return "ivf" if isinstance(self._index, faiss.IndexBinaryIVF) else "flat"

    @property
    def mapped(self) -> bool:
        """Whether the lists are read from a memory-mapped file (as loaded, until a change)."""
        return self._mapped

    def images(self) -> int:
        return len(self._live)

    def memory_bytes(self) -> int:
        """Bytes held: each row with its id in FAISS (in the page cache while memory-mapped), and
        the row count of each image."""
        return (self.spec.row_width + ID_BYTES) * self.total_rows + 16 * len(self._live)

    # ---- changes ------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.uint8)
        if not len(ids):
            return
        self.remove(np.unique(ids))  # re-adding an image replaces its rows
        self._writable()
        images, counts = np.unique(ids, return_counts=True)
        self._live.update(zip(images.tolist(), counts.tolist(), strict=True))
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids))
        if self.total_rows >= self._train_at():
            self._train()

    def _train_at(self) -> int:
        """Rows at which the IVF is made (while flat) or made again (its centroids stale)."""
        return self._ivf_rows if self.structure == "flat" else RETRAIN_GROWTH * self._trained_rows

    def remove(self, ids: np.ndarray) -> int:
        """Take the images' rows out; returns how many rows (as the brute-force index does)."""
        asked = np.unique(np.asarray(ids, dtype=np.int64)).tolist()
        gone = np.ascontiguousarray([i for i in asked if i in self._live], dtype=np.int64)
        if not len(gone):
            return 0
        self._writable()
        removed = int(self._index.remove_ids(faiss.IDSelectorBatch(len(gone), faiss.swig_ptr(gone))))
        for image_id in gone.tolist():
            del self._live[image_id]
        return removed

    def _writable(self) -> None:
        """Copy memory-mapped lists into memory, where FAISS can change them."""
        if not self._mapped:
            return
        lists: Any = faiss.ArrayInvertedLists(self._index.nlist, self._index.code_size)
        for number in range(self._index.nlist):
            ids, codes = _list(self._index.invlists, number)
            if len(ids):
                lists.add_entries(number, len(ids), faiss.swig_ptr(ids), faiss.swig_ptr(codes))
        self._index.replace_invlists(lists, True)
        lists.thisown = False  # the index owns it now
        self._mapped = False

    def _train(self) -> None:
        """Make the IVF afresh from every row: new centroids, rows assigned to their lists."""
        codes, ids = _contents(self._index)
        lists = int(min(MAX_LISTS, max(256, 4 * np.sqrt(len(codes)))))  # training time grows with lists
        index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(self.spec.dim), self.spec.dim, lists)
        chosen = np.random.default_rng(0).choice(len(codes), min(len(codes), TRAIN_PER_LIST * lists), False)
        sample = codes[chosen]
        faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))
        index.train(sample)
        index.nprobe = IVF_NPROBE
        index.add_with_ids(codes, ids)
        self._index, self._trained_rows = index, len(codes)
        self.trainings += 1

    # ---- search -------------------------------------------------------------------------

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For each query descriptor, its ``k`` nearest descriptors as (Hamming distances, image ids)."""
        n = len(queries)
        if not self.total_rows or not n:
            return self._pad(np.empty((n, 0), np.float32), np.empty((n, 0), np.int64), k)
        faiss.omp_set_num_threads(self._threads)
        raw, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.uint8), min(k, self.total_rows))
        distances = raw.astype(np.float32)
        distances[ids < 0] = np.inf
        return self._pad(distances, ids.astype(np.int64), k)

    # ---- storage ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """The FAISS file (a new name), then ``path`` naming it; then older FAISS files go."""
        self._writable()  # FAISS writes mapped lists as a reference to their file
        stored = path.with_name(f"{path.name}.{secrets.token_hex(6)}.faiss")
        tmp = stored.with_name(stored.name + ".tmp")
        faiss.write_index_binary(self._index, str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, stored)
        images = np.fromiter(self._live, dtype=np.int64, count=len(self._live))
        counts = np.fromiter(self._live.values(), dtype=np.int64, count=len(self._live))
        with replacing(path) as fh:
            np.savez(fh, images=images, counts=counts, trained_rows=self._trained_rows, faiss=stored.name)
        for old in [*path.parent.glob(f"{path.name}.*.faiss"), *path.parent.glob(f"{path.name}.*.faiss.tmp")]:
            if old != stored:  # earlier saves, and what a crash left half written
                old.unlink(missing_ok=True)

    @classmethod
    def load(
        cls, spec: SignalSpec, path: Path, threads: int = 1, ivf_rows: int = IVF_ROWS
    ) -> DescriptorIndex:
        """The index saved at ``path``, its FAISS file memory-mapped; raises :class:`BackendError`
        when that file is missing, unreadable or holds other rows than ``path`` counts."""
        index = cls(spec, threads, ivf_rows)
        images, counts, index._trained_rows, index._index = _read(path)
        if index._index.ntotal != counts.sum() or index._index.code_size != spec.row_width:
            raise BackendError(f"{path}: its FAISS file holds other rows than it counts")
        if isinstance(index._index, faiss.IndexBinaryIVF):
            index._mapped, index._index.nprobe = True, IVF_NPROBE
            # FAISS's mapped lists start 32 threads per search to read the probed lists ahead:
            # on 2 cores that halved a 100k-image search (0.30 s against 0.14 s without)
            lists = faiss.downcast_InvertedLists(index._index.invlists)
            if hasattr(lists, "prefetch_nthread"):  # OnDiskInvertedLists, as IO_FLAG_MMAP reads them
                lists.prefetch_nthread = 0
        index._live = dict(zip(images.tolist(), counts.tolist(), strict=True))
        return index


def _read(path: Path) -> tuple[np.ndarray, np.ndarray, int, Any]:
    """Image ids, their row counts, rows trained among, and the FAISS index (memory-mapped)."""
    tried = ""
    while True:  # another process may replace the pair between the two reads: read it again
        try:
            with np.load(path) as data:
                images, counts, trained = data["images"], data["counts"], int(data["trained_rows"])
                name = str(data["faiss"])
        except KeyError as error:
            raise BackendError(f"{path}: an older descriptor index, without its FAISS file") from error
        try:
            stored = faiss.read_index_binary(str(path.with_name(name)), faiss.IO_FLAG_MMAP)
            return images, counts, trained, stored
        except RuntimeError as error:
            if name == tried:
                raise BackendError(f"{path}: its FAISS file {name} cannot be read ({error})") from error
            tried = name


def _list(lists: Any, number: int) -> tuple[np.ndarray, np.ndarray]:
    """The ids and codes of one inverted list, copied out of FAISS."""
    size, width = lists.list_size(number), lists.code_size
    ids, codes = np.empty(size, dtype=np.int64), np.empty((size, width), dtype=np.uint8)
    if size:
        found_ids, found_codes = lists.get_ids(number), lists.get_codes(number)
        faiss.memcpy(faiss.swig_ptr(ids), found_ids, ids.nbytes)
        faiss.memcpy(faiss.swig_ptr(codes), found_codes, codes.nbytes)
        lists.release_ids(number, found_ids)
        lists.release_codes(number, found_codes)
    return ids, codes


def _contents(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every row of a flat (id-mapped) or IVF index with its id, copied out of FAISS."""
    if isinstance(index, faiss.IndexBinaryIVF):
        parts = [_list(index.invlists, number) for number in range(index.nlist)]
        return np.vstack([c for _, c in parts]), np.concatenate([i for i, _ in parts])
    flat: Any = faiss.downcast_IndexBinary(index.index)
    codes = faiss.vector_to_array(flat.xb).reshape(-1, flat.code_size)
    return codes, faiss.vector_to_array(index.id_map).astype(np.int64)


class DescriptorFactory:
    """Registers the descriptor index (signals name it as their ``index_backend``)."""

    name = "descriptors"
    suffix = ".desc.npz"

    def __init__(self, ivf_rows: int = IVF_ROWS) -> None:
        self.ivf_rows = ivf_rows

    def create(self, spec: SignalSpec, threads: int, size: int = 0) -> DescriptorIndex:
        return DescriptorIndex(spec, threads, self.ivf_rows)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> DescriptorIndex:
        return DescriptorIndex.load(spec, path, threads, self.ivf_rows)

    def files(self, path: Path) -> list[Path]:
        """The files of the index saved at ``path``: the npz and the FAISS file it names."""
        with np.load(path) as data:
            return [path, path.with_name(str(data["faiss"]))]
