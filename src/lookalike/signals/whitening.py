"""PCA whitening of embeddings, fitted on a collection.

Centring and scaling each principal direction to unit variance makes cosine
distances reflect what varies in *this* collection rather than what every
image of the model's training set shares.  Kept dimensions are padded back to
the model's size with zeros, so indexes keep one width and cosines are unchanged
by the padding.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Whitening"]

SHRINK = 0.1  # added to each eigenvalue, as a share of the mean: tames directions with little variance


@dataclass(frozen=True)
class Whitening:
    """x -> normalise((x - mean) @ projection), padded to the input width."""

    mean: np.ndarray  # (dim,)
    projection: np.ndarray  # (dim, kept)
    fitted_on: int

    @classmethod
    def fit(cls, vectors: np.ndarray, keep: int = 0) -> Whitening:
        """Fit on (n, dim) vectors; ``keep`` principal directions (0: all that the data has)."""
        x = np.asarray(vectors, dtype=np.float64)
        n, dim = x.shape
        if n < 2:
            raise ValueError("whitening needs at least two vectors")
        mean = x.mean(axis=0)
        _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
        variance = singular**2 / (n - 1)
        kept = min(keep or dim, len(variance), dim)
        scale = 1.0 / np.sqrt(variance[:kept] + SHRINK * variance.mean() + 1e-12)
        projection = (vt[:kept].T * scale).astype(np.float32)
        return cls(mean.astype(np.float32), projection, n)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        x = (np.asarray(vectors, dtype=np.float32) - self.mean) @ self.projection
        out = np.zeros((len(x), len(self.mean)), dtype=np.float32)
        out[:, : x.shape[1]] = x
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    @property
    def id(self) -> str:
        """Names this fit, so an index built with another one is rebuilt."""
        digest = hashlib.sha256(self.mean.tobytes() + self.projection.tobytes())
        return digest.hexdigest()[:16]

    def save(self, path: Path) -> None:
        partial = path.with_name(path.name + ".part")
        with partial.open("wb") as f:
            np.savez(f, mean=self.mean, projection=self.projection, fitted_on=np.int64(self.fitted_on))
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> Whitening:
        with np.load(path) as data:
            return cls(data["mean"], data["projection"], int(data["fitted_on"]))
