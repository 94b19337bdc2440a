"""The signal seam: a pure function from a decoded image to a feature.

A signal's feature is a small 2-D array.  Row 0 is the vector the index holds;
any further rows are stored query variants (the mirrored phash, say), so that a
search by id can try them without the original file.  A *local* signal
(:class:`LocalSignal`, such as ``keypoints``) instead indexes many rows per image
in an index of its own kind, and judges a candidate by :meth:`LocalSignal.verify`.  ``extract`` is the one
method a signal must write; :class:`BaseSignal` gives the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np

from lookalike.decode import DecodedImage

__all__ = ["BaseSignal", "Kind", "LocalSignal", "Match", "Metric", "Region", "Signal", "SignalSpec", "distances"]

Region = tuple[tuple[float, float], ...]  # a polygon, as (x, y) fractions of width and height


class Kind(StrEnum):
    """What an index stores for a signal."""

    BINARY = "binary"  # packed bits, uint8 rows of dim/8 bytes
    FLOAT = "float"  # float32 rows of dim values


class Metric(StrEnum):
    """How two vectors of a signal are compared; every distance is 'smaller is closer'."""

    HAMMING = "hamming"  # differing bits
    L2 = "l2"  # Euclidean distance (not squared)
    COSINE = "cosine"  # 1 - inner product of unit vectors


@dataclass(frozen=True)
class SignalSpec:
    """Identity and shape of a signal's feature."""

    name: str
    version: int
    kind: Kind
    metric: Metric
    dim: int  # bits for binary signals, values for float signals
    dtype: str  # dtype of the stored rows: "uint8", "float16", "float32"

    @property
    def row_width(self) -> int:
        """Stored values per row."""
        return self.dim // 8 if self.kind is Kind.BINARY else self.dim


@runtime_checkable
class Signal(Protocol):
    """What the pipeline, the catalog and the query planner need of a signal."""

    spec: SignalSpec
    input_size: int  # longest side of the view the signal reads; the decoder need not keep more

    def extract(self, image: DecodedImage) -> np.ndarray: ...
    def extract_batch(self, images: Sequence[DecodedImage]) -> list[np.ndarray]: ...
    def query(self, image: DecodedImage) -> np.ndarray: ...
    def index_rows(self, feature: np.ndarray) -> np.ndarray: ...
    def index_vectors(self, stored: np.ndarray) -> np.ndarray: ...
    def similarity(self, distance: np.ndarray) -> np.ndarray: ...
    def encode(self, feature: np.ndarray) -> bytes: ...
    def decode(self, payload: bytes) -> np.ndarray: ...


@dataclass(frozen=True)
class Match:
    """A geometrically verified match of a query against one stored image."""

    inliers: int
    matches: int  # descriptor pairs that passed the ratio test
    mirrored: bool  # matched through the mirrored query
    query_region: Region  # the matched part of the query image
    result_region: Region  # the same part in the stored image


@runtime_checkable
class LocalSignal(Signal, Protocol):
    """A signal of many local features per image, judged by a geometric check.

    Its index (named by ``index_backend``) holds every row of ``index_rows``; a
    candidate gets a vote from each query descriptor that has one of the
    candidate's descriptors among its ``vote_neighbours`` nearest, within
    ``vote_distance``; candidates with fewer than ``min_votes`` are not checked.  The Evidence distance of a local signal is the inlier
    count of :meth:`verify` (larger is closer; ``similarity`` is increasing).
    """

    index_backend: str
    vote_neighbours: int
    vote_distance: int
    min_votes: int

    def verify(self, query: np.ndarray, stored: np.ndarray) -> Match | None: ...


class BaseSignal:
    """Conveniences for a signal; subclasses set ``spec`` and write ``extract``.

    ``midpoint`` and ``spread`` calibrate distances into similarities in [0, 1]
    with a logistic curve: a distance of ``midpoint`` maps to 0.5.  Each signal
    sets them from measured distributions of copies and of unrelated images.
    """

    spec: SignalSpec
    input_size: int = 256
    midpoint: float = 1.0
    spread: float = 1.0

    def extract(self, image: DecodedImage) -> np.ndarray:
        raise NotImplementedError

    def extract_batch(self, images: Sequence[DecodedImage]) -> list[np.ndarray]:
        """Features of several images; a model-backed signal runs them in one call."""
        return [self.extract(image) for image in images]

    def query(self, image: DecodedImage) -> np.ndarray:
        """Vectors to search with for a query image (all stored rows by default)."""
        return self.extract(image)

    def index_rows(self, feature: np.ndarray) -> np.ndarray:
        """The rows of a stored feature that the index holds: row 0 (a local-feature signal, all)."""
        return feature[:1]

    def index_vectors(self, stored: np.ndarray) -> np.ndarray:
        """Rows as the index wants them: packed uint8 for binary, float32 otherwise."""
        if self.spec.kind is Kind.BINARY:
            return np.ascontiguousarray(stored, dtype=np.uint8)
        return np.ascontiguousarray(stored, dtype=np.float32)

    def similarity(self, distance: np.ndarray) -> np.ndarray:
        z = (np.asarray(distance, dtype=np.float64) - self.midpoint) / self.spread
        return 1.0 / (1.0 + np.exp(np.clip(z, -50, 50)))

    def encode(self, feature: np.ndarray) -> bytes:
        rows = np.ascontiguousarray(feature, dtype=self.spec.dtype)
        if rows.ndim != 2 or rows.shape[1] != self.spec.row_width:
            raise ValueError(
                f"{self.spec.name}: feature shape {rows.shape} is not (n, {self.spec.row_width})"
            )
        return rows.tobytes()

    def decode(self, payload: bytes) -> np.ndarray:
        return np.frombuffer(payload, dtype=self.spec.dtype).reshape(-1, self.spec.row_width)


def distances(metric: Metric, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Distance matrix (len(queries), len(rows)) in the metric's own units."""
    if metric is Metric.HAMMING:
        q = np.ascontiguousarray(queries, dtype=np.uint8)
        r = np.ascontiguousarray(rows, dtype=np.uint8)
        counts = np.bitwise_count(q[:, None, :] ^ r[None, :, :]).sum(axis=2, dtype=np.int64)
        return np.asarray(counts, dtype=np.float32)
    q32, r32 = queries.astype(np.float32), rows.astype(np.float32)
    if metric is Metric.COSINE:
        return np.asarray(1.0 - q32 @ r32.T, dtype=np.float32)
    sq = (q32 * q32).sum(1)[:, None] + (r32 * r32).sum(1)[None, :] - 2.0 * (q32 @ r32.T)
    return np.asarray(np.sqrt(np.maximum(sq, 0.0)), dtype=np.float32)
