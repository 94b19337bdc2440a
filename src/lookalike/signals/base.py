"""The signal seam: a pure function from a decoded image to a feature.

A signal's feature is a small 2-D array.  Row 0 is the vector the index holds;
any further rows are stored query variants (the mirrored phash, say), so that a
search by id can try them without the original file.  A *local* signal
(:class:`LocalSignal`, such as ``keypoints``) instead indexes many rows per image
in an index of its own kind, and judges a candidate by :meth:`LocalSignal.verify`.  A *text*
signal (:class:`TextSignal`: OCR, tags, captions) reads words with a confidence, which
keyword search finds.  A *flag* signal (:class:`FlagSignal`: ``junk``) says why an image
should stay out of results, or nothing.  ``extract`` (``read`` for a text signal, ``judge``
for a flag signal) is the one method a signal must write; :class:`BaseSignal`,
:class:`BaseTextSignal` and :class:`BaseFlagSignal` give the rest.

A signal says what it yields and what it can do in ``capabilities``; ingest, the
index set, the query planner, fusion and "why" go by those and by the signal's own
name and description, never by a built-in signal's name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np

from lookalike.decode import DecodedImage
from lookalike.records import TextField
from lookalike.signals.whitening import Whitening

__all__ = [
    "BaseFlagSignal",
    "BaseSignal",
    "BaseTextSignal",
    "Capability",
    "FlagSignal",
    "Kind",
    "LocalSignal",
    "Match",
    "Metric",
    "Region",
    "Signal",
    "SignalSpec",
    "TextQuerySignal",
    "TextSignal",
    "WhitenableSignal",
    "distances",
]

Region = tuple[tuple[float, float], ...]  # a polygon, as (x, y) fractions of width and height


class Kind(StrEnum):
    """What an index stores for a signal."""

    BINARY = "binary"  # packed bits, uint8 rows of dim/8 bytes
    FLOAT = "float"  # float32 rows of dim values
    TEXT = "text"  # no vectors: words, stored with the image and found by keyword search
    FLAG = "flag"  # no vectors: why the image is flagged (a short reason), or nothing


class Capability(StrEnum):
    """What a signal yields and what it can do."""

    VECTORS = "vectors"  # one global vector per image, in a vector index (phash, colour, embedding)
    LOCAL = "local"  # many local features per image, verified geometrically (keypoints)
    TEXT = "text"  # text fields with a confidence, to keyword search (OCR, tags, captions)
    TEXT_QUERY = "text query"  # embeds words in its image space: search by description (clip)
    WHITENING = "whitening"  # its index vectors may be PCA-whitened on the collection
    DUPLICATES = "duplicates"  # its distance tells near-identical images apart: collapse and dupes
    CONTENT = "content"  # its similarity says what the picture shows (a model's embedding): look-alikes
    FLAG = "flag"  # flags images (junk) with a reason; results leave them out unless asked


class Metric(StrEnum):
    """How two vectors of a signal are compared; every distance is 'smaller is closer'."""

    HAMMING = "hamming"  # differing bits
    L2 = "l2"  # Euclidean distance (not squared)
    COSINE = "cosine"  # 1 - inner product of unit vectors
    WORDS = "words"  # keyword match (text signals); larger scores are closer
    NONE = "none"  # flags: never compared


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
    capabilities: frozenset[Capability]
    description: str  # one line for people: `lookalike doctor`, the API docs
    weight: float  # its share of the fused score, unless search.weights sets one

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


@runtime_checkable
class TextSignal(Signal, Protocol):
    """A signal that reads text from the pixels: its stored feature holds text fields."""

    def texts(self, feature: np.ndarray) -> list[TextField]: ...


@runtime_checkable
class FlagSignal(Signal, Protocol):
    """A signal that flags images: its stored feature holds the reason, empty when not flagged."""

    def reason(self, feature: np.ndarray) -> str | None: ...


@runtime_checkable
class TextQuerySignal(Signal, Protocol):
    """A signal that embeds words in its image space (a CLIP model's text tower)."""

    def embed_text(self, texts: Sequence[str]) -> np.ndarray: ...
    def text_similarity(self, distance: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class WhitenableSignal(Signal, Protocol):
    """A signal whose index vectors may be PCA-whitened, with a fit made on the collection."""

    whitening: Whitening | None


class BaseSignal:
    """Conveniences for a signal; subclasses set ``spec`` and write ``extract``.

    ``midpoint`` and ``spread`` calibrate distances into similarities in [0, 1]
    with a logistic curve: a distance of ``midpoint`` maps to 0.5.  Each signal
    sets them from measured distributions of copies and of unrelated images.
    """

    spec: SignalSpec
    input_size: int = 256
    capabilities: frozenset[Capability] = frozenset({Capability.VECTORS})
    description: str = ""
    weight: float = 1.0
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


class BaseTextSignal(BaseSignal):
    """Conveniences for a text signal; subclasses set ``spec`` (kind TEXT) and write ``read``.

    The stored feature is the fields as UTF-8 JSON bytes, one row; :meth:`texts` reads them back.
    """

    capabilities = frozenset({Capability.TEXT})

    def read(self, image: DecodedImage) -> list[TextField]:
        raise NotImplementedError

    def extract(self, image: DecodedImage) -> np.ndarray:
        fields = [
            [
                f.field,
                f.text,
                round(float(f.confidence), 4),
                *([[round(v, 4) for v in f.box]] if f.box else []),
            ]
            for f in self.read(image)
        ]
        return np.frombuffer(json.dumps(fields).encode(), dtype=np.uint8)[None, :]

    def texts(self, feature: np.ndarray) -> list[TextField]:
        return [
            TextField(str(f), str(t), float(c), tuple(box[0]) if box else None)
            for f, t, c, *box in json.loads(bytes(feature.ravel()).decode())
        ]

    def encode(self, feature: np.ndarray) -> bytes:
        return np.ascontiguousarray(feature, dtype=np.uint8).tobytes()

    def decode(self, payload: bytes) -> np.ndarray:
        return np.frombuffer(payload, dtype=np.uint8)[None, :]


class BaseFlagSignal(BaseSignal):
    """Conveniences for a flag signal; subclasses set ``spec`` (kind FLAG) and write ``judge``.

    The stored feature is the reason as UTF-8 bytes, one row (no bytes: not flagged), so that a
    backfill knows the image was judged; :meth:`reason` reads it back.
    """

    capabilities = frozenset({Capability.FLAG})

    def judge(self, image: DecodedImage) -> str | None:
        raise NotImplementedError

    def extract(self, image: DecodedImage) -> np.ndarray:
        return np.frombuffer((self.judge(image) or "").encode(), dtype=np.uint8)[None, :]

    def reason(self, feature: np.ndarray) -> str | None:
        return bytes(feature.ravel()).decode() or None

    def encode(self, feature: np.ndarray) -> bytes:
        return np.ascontiguousarray(feature, dtype=np.uint8).tobytes()

    def decode(self, payload: bytes) -> np.ndarray:
        return np.frombuffer(payload, dtype=np.uint8)[None, :]


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
