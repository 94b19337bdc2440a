"""Signals computed by neural models: ``embedding`` (images) and ``clip`` (images and text).

The model turns a decoded image into a unit vector; stored as float16 (1 KB for
512 values); compared by cosine distance.  The signal version comes from the
model's identity, so switching models means a backfill, never mixed features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lookalike.decode import DecodedImage
from lookalike.errors import ModelError
from lookalike.models import LoadedModel
from lookalike.signals.base import BaseSignal, Capability, Kind, Metric, SignalSpec
from lookalike.signals.whitening import Whitening

__all__ = ["ModelSignal"]


class ModelSignal(BaseSignal):
    """An image embedding from a model; with a text tower (``clip``), text queries too."""

    def __init__(self, name: str, model: LoadedModel, batch_size: int = 16, whitenable: bool = False) -> None:
        """``whitenable``: its index vectors may be PCA-whitened (an image-similarity signal)."""
        config = model.config
        self.model, self.batch_size = model, batch_size
        self.spec = SignalSpec(name, config.version(), Kind.FLOAT, Metric.COSINE, config.dim, "float16")
        self.input_size = config.image.size
        self.midpoint, self.spread = config.image_calibration
        self.text_midpoint, self.text_spread = config.text_calibration
        #: fitted on the collection and set by it (models.whiten); applied to indexed and query vectors
        self.whitening: Whitening | None = None
        self.capabilities = frozenset(
            {Capability.VECTORS, Capability.CONTENT}
            | ({Capability.TEXT_QUERY} if model.text is not None else set())
            | ({Capability.WHITENING} if whitenable else set())
        )
        self.description = (
            f"{'image and text' if model.text is not None else 'image'} embedding of model {config.name}"
        )

    @property
    def has_text(self) -> bool:
        return self.model.text is not None

    def extract(self, image: DecodedImage) -> np.ndarray:
        return self.extract_batch([image])[0]

    def extract_batch(self, images: Sequence[DecodedImage]) -> list[np.ndarray]:
        vectors = []
        for start in range(0, len(images), self.batch_size):
            chunk = [image.image for image in images[start : start + self.batch_size]]
            vectors.append(self.model.image.embed(chunk))
        if not vectors:
            return []
        return [row[None, :] for row in np.vstack(vectors)]

    def index_vectors(self, stored: np.ndarray) -> np.ndarray:
        rows = np.asarray(stored, dtype=np.float32)
        if self.whitening is not None:
            return self.whitening.apply(rows)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)  # float16 storage moves the norm a little
        return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)

    @property
    def transform_id(self) -> str | None:
        """What the index vectors depend on besides the features (see :class:`IndexSet`)."""
        return self.whitening.id if self.whitening is not None else None

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors for words, in the image space (clip models only)."""
        if self.model.text is None:
            raise ModelError(
                f"model '{self.model.config.name}' of signal '{self.spec.name}' has no text tower"
            )
        return self.model.text.embed(texts)

    def text_similarity(self, distance: np.ndarray) -> np.ndarray:
        """Calibrated similarity of a text-to-image cosine distance (lower than image-to-image)."""
        z = (np.asarray(distance, dtype=np.float64) - self.text_midpoint) / self.text_spread
        return 1.0 / (1.0 + np.exp(np.clip(z, -50, 50)))
