"""A shortlist for Hamming searches of long codes: scan a few bytes of every code, re-rank exactly.

A query of the phash index is two rows or more (the image and its mirror image, and
the picture inside a border), and a full scan of 1M 576-bit codes costs about 3.5 ms a
row on our machines, whatever the blocking: the scan is bound by the popcounts, not by
memory (docs/benchmarks.md, "Hash shortlist").  So a query scans a short prefix of every
code instead (``SHORTLIST_BYTES`` of the 72, kept in a FAISS index of their own), keeps
the ``size`` codes nearest on it for each row and re-scores those on all their bits.

The prefix holds the bytes that phash's edits change least: a phash is its 24 x 24
low-frequency DCT block row by row, three bytes a row, so byte ``3 r + c`` holds
vertical frequency ``r`` and horizontal frequencies ``8 c`` to ``8 c + 7``.  On real
edited copies of photos among 1M codes the true ten nearest stay in the shortlist
(recall@10 against the exhaustive scan, docs/benchmarks.md).  The answer is exact for
every code nearer than the shortlist's last prefix distance (a code left out is at least
that far on the prefix alone, so at least that far on all its bits), and the planner
re-scores what it gets from the stored features anyway.

The prefix index is derived: built from the codes on the first search and after a
removal (which moves codes), extended on every add, never saved.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

__all__ = ["SHORTLIST_BYTES", "SHORTLIST_SIZE", "Shortlist", "prefix_columns"]

SHORTLIST_SIZE = 4096  # candidates per query row where no settings say (index.hash_shortlist)
#: bytes of each code scanned for the shortlist (a multiple of 8: FAISS has a fast path for them)
SHORTLIST_BYTES = 32
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def prefix_columns(width: int) -> np.ndarray:
    """The byte columns of a code ``width`` bytes wide that the shortlist scans.

    Codes three bytes a row of a square block (phash's 24 x 24: 72 bytes) give the lowest
    frequencies: the first two bytes of each of the first rows; other codes, their first bytes.
    """
    take = min(SHORTLIST_BYTES, width)
    side = round((width * 8) ** 0.5)
    if side * side == width * 8 and side % 8 == 0 and side // 8 >= 2:
        per_row = side // 8
        cells = [per_row * r + c for r in range(side) for c in range(2)]
        return np.array(cells[:take], dtype=np.int64)
    return np.arange(take, dtype=np.int64)


def hamming_rows(candidates: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance of each packed row of ``candidates`` (m, width) to ``query`` (width)."""
    x = np.bitwise_xor(candidates, query[None, :])
    count = getattr(np, "bitwise_count", None)
    if count is not None and x.shape[1] % 8 == 0:
        return np.asarray(count(np.ascontiguousarray(x).view(np.uint64)).sum(axis=1, dtype=np.int64))
    return np.asarray(_POPCOUNT[x].sum(axis=1, dtype=np.int64))


class Shortlist:
    """The prefix index beside a flat binary index, and its two-step search."""

    def __init__(self, width: int, size: int) -> None:
        self.width, self.size = width, size
        self.columns = prefix_columns(width)
        self._prefix: Any = None  # faiss.IndexBinaryFlat of the prefixes, in the codes' order

    def forget(self) -> None:
        """Codes were removed (the others moved): the next search rebuilds the prefixes."""
        self._prefix = None

    def extend(self, rows: np.ndarray) -> None:
        """Rows appended to the codes (only once the prefixes exist)."""
        if self._prefix is not None:
            self._prefix.add(np.ascontiguousarray(rows[:, self.columns]))

    def search(
        self, codes: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The exact ``k`` nearest of each query row among its shortlist: (distances, ids).

        ``codes`` (n, width) and ``ids`` (n) are the flat index's own arrays, in its order.
        """
        if self._prefix is None or self._prefix.ntotal != len(codes):
            self._prefix = faiss.IndexBinaryFlat(8 * len(self.columns))
            self._prefix.add(np.ascontiguousarray(codes[:, self.columns]))  # one add: no spare capacity
        _, places = self._prefix.search(np.ascontiguousarray(queries[:, self.columns]), self.size)
        k = min(k, self.size)
        out_d = np.full((len(queries), k), np.inf, dtype=np.float32)
        out_i = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (query, found) in enumerate(zip(queries, places, strict=True)):
            found = found[found >= 0]
            exact = hamming_rows(codes[found], query)
            # nearest first; among equal distances the lower id, as the exhaustive scan keeps them
            order = np.lexsort((ids[found], exact))[:k]
            out_d[row, : len(order)] = exact[order]
            out_i[row, : len(order)] = ids[found[order]]
        return out_d, out_i
