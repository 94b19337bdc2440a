"""A shortlist for Hamming searches of long codes: scan a short prefix of every code, re-rank exactly.

A query of the phash index is two rows or more (the image and its mirror image, and
the picture inside a border), and the exhaustive scan costs FAISS a few nanoseconds per
code and row: 1M 576-bit codes, two rows, about 6-9 ms on our machines
(docs/benchmarks.md, "Hash shortlist").  So a query scans a 16-byte prefix of every code
instead (kept in a FAISS index of its own), keeps the ``size`` codes nearest on it and
re-scores those on all their bits.

The prefix of a phash is 128 bits that change least under edits and not at all under
mirroring: a phash is its 24 x 24 low-frequency DCT block row by row, and mirroring an
image negates only its odd horizontal frequencies, so the even horizontal frequencies 0-14
of the vertical frequencies 0-15 of an image and of its mirror image agree but where the
median moved (0-5 bits in 128 on photos).  Query rows whose prefixes are that close share
one scan: the image and its mirror cost one scan of 16 MB at 1M, not two of 72 MB.  Other
codes use their first bytes, one scan per row.

The answer is exact for every code nearer than the shortlist's last prefix distance (a
code left out is at least that far on the prefix alone, so at least that far on all its
bits); past it a far neighbour can be missed, which the planner (it re-scores what it
gets from the stored features) does not need: the copies' recall is measured against the
exhaustive scan in docs/benchmarks.md.  The prefix index is derived: built from the codes
on the first search and after a removal (which moves codes), extended on every add,
never saved.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

__all__ = ["SHORTLIST_BYTES", "SHORTLIST_SIZE", "Shortlist", "prefix_columns"]

SHORTLIST_SIZE = 2048  # candidates per query row where no settings say (index.hash_shortlist)
#: bytes of each code scanned for the shortlist (a multiple of 8: FAISS has a fast path for them)
SHORTLIST_BYTES = 16
#: query rows whose prefixes are this close share one scan (an image and its mirror image differ
#: in a few of the 128 bits)
SHARE_BITS = 8
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def prefix_columns(width: int) -> np.ndarray:
    """The byte columns of a code ``width`` bytes wide that a column prefix scans.

    Codes three bytes a row of a square block (phash's 24 x 24: 72 bytes) give the lowest
    frequencies: the first two bytes of each of the first rows; other codes, their first bytes.
    """
    take = min(SHORTLIST_BYTES, width)
    if _square(width):
        per_row = round((width * 8) ** 0.5) // 8
        cells = [per_row * r + c for r in range(per_row * 8) for c in range(2)]
        return np.array(cells[:take], dtype=np.int64)
    return np.arange(take, dtype=np.int64)


def _square(width: int) -> bool:
    """Whether a code of ``width`` bytes is a square block of bits three bytes or more a row."""
    side = round((width * 8) ** 0.5)
    return bool(side * side == width * 8 and side % 8 == 0 and side // 8 >= 2)


#: the even columns of a packed byte (its bits 7, 5, 3 and 1: packbits puts the first column
#: in the top bit) as a 4-bit number
_EVEN = np.array([sum(((i >> (7 - 2 * j)) & 1) << (3 - j) for j in range(4)) for i in range(256)], np.uint8)


def mirror_prefix(codes: np.ndarray) -> np.ndarray:
    """16 bytes of each 72-byte phash that its mirror image shares: the even horizontal
    frequencies 0-14 of vertical frequencies 0-15.  Mirroring an image negates its odd
    horizontal frequencies only, so these bits change only where the median moves."""
    hi = _EVEN[codes[:, 0:48:3]]  # horizontal frequencies 0-7 of each row
    lo = _EVEN[codes[:, 1:48:3]]  # 8-15
    return np.ascontiguousarray((hi << 4) | lo)


def hamming_rows(candidates: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance of each packed row of ``candidates`` (m, width) to ``query`` (width)."""
    x = np.bitwise_xor(candidates, query[None, :])
    count = getattr(np, "bitwise_count", None)
    if count is not None and x.shape[1] % 8 == 0:
        return np.asarray(count(np.ascontiguousarray(x).view(np.uint64)).sum(axis=1, dtype=np.int64))
    return np.asarray(_POPCOUNT[x].sum(axis=1, dtype=np.int64))


class Shortlist:
    """The prefix index beside a flat binary index, and its two-step search."""

    #: FAISS's k-nearest by counting codes per distance, not a heap: for a shortlist thousands
    #: long a heap costs more than the scan (docs/benchmarks.md, "Hash shortlist")
    counting = True

    #: phash's codes: scan the bits an image shares with its mirror image, once for query rows
    #: whose prefixes are within ``SHARE_BITS`` of each other (the image and its mirror)
    mirrored = True

    def __init__(self, width: int, size: int) -> None:
        self.width, self.size = width, size
        self.columns = prefix_columns(width)
        self._mirror = self.mirrored and width == 72 and _square(width)
        self._prefix: Any = None  # faiss.IndexBinaryFlat of the prefixes, in the codes' order

    def _prefixes(self, rows: np.ndarray) -> np.ndarray:
        return mirror_prefix(rows) if self._mirror else np.ascontiguousarray(rows[:, self.columns])

    def forget(self) -> None:
        """Codes were removed (the others moved): the next search rebuilds the prefixes."""
        self._prefix = None

    def extend(self, rows: np.ndarray) -> None:
        """Rows appended to the codes (only once the prefixes exist)."""
        if self._prefix is not None:
            self._prefix.add(self._prefixes(rows))

    def search(
        self, codes: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The exact ``k`` nearest of each query row among its shortlist: (distances, ids).

        ``codes`` (n, width) and ``ids`` (n) are the flat index's own arrays, in its order.
        """
        if self._prefix is None or self._prefix.ntotal != len(codes):
            self._prefix = faiss.IndexBinaryFlat(128 if self._mirror else 8 * len(self.columns))
            self._prefix.add(self._prefixes(codes))  # one add: no spare capacity
        self._prefix.use_heap = not self.counting
        wanted = self._prefixes(queries)
        scan: list[int] = []  # the rows scanned; every row uses the first scanned one near it
        uses = []
        for row in range(len(queries)):
            close = [
                i for i, r in enumerate(scan) if hamming_rows(wanted[r : r + 1], wanted[row])[0] <= SHARE_BITS
            ]
            if not close:
                scan.append(row)
            uses.append(close[0] if close else len(scan) - 1)
        _, scanned = self._prefix.search(np.ascontiguousarray(wanted[scan]), self.size)
        places = scanned[uses]
        k = min(k, self.size)
        out_d = np.full((len(queries), k), np.inf, dtype=np.float32)
        out_i = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (query, found) in enumerate(zip(queries, places, strict=True)):
            found = found[found >= 0]
            exact = hamming_rows(codes[found], query)
            if len(found) > k:  # only those as near as the k-th are sorted (all of them: ties)
                kth = np.partition(exact, k - 1)[k - 1]
                near = np.flatnonzero(exact <= kth)
                found, exact = found[near], exact[near]
            # nearest first; among equal distances the lower id, as the exhaustive scan keeps them
            order = np.lexsort((ids[found], exact))[:k]
            out_d[row, : len(order)] = exact[order]
            out_i[row, : len(order)] = ids[found[order]]
        return out_d, out_i
