"""Signals computed by neural models: ``embedding`` (images) and ``clip`` (images and text).

The model turns a decoded image into a unit vector; stored as float16 (1 KB for
512 values); compared by cosine distance.  The signal version comes from the
model's identity, so switching models means a backfill, never mixed features.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from lookalike.decode import DecodedImage
from lookalike.errors import ModelError
from lookalike.models import LoadedModel
from lookalike.signals.base import BaseSignal, Capability, Kind, Metric, SignalSpec
from lookalike.signals.whitening import Whitening

__all__ = ["ModelSignal", "share_passes"]


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
        if not images:
            return []
        # the whole list at once, in runs of batch_size: a tags signal over the same model and
        # images then reads the same runs (see share_passes)
        vectors = self.model.image.embed([image.image for image in images], self.batch_size)
        return [row[None, :] for row in vectors]

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


def share_passes(signals: Iterable[object]) -> int:
    """Let the signals that run the same model file (and feed it alike) share one loaded model,
    so that one inference pass per batch serves them all (the embedding and the class logits of
    one classifier).  Returns how many signals now share another's model."""
    first: dict[tuple[str, str], LoadedModel] = {}
    shared = 0
    for signal in signals:
        model = getattr(signal, "model", None)
        if not isinstance(model, LoadedModel):
            continue
        key = (str(model.folder.resolve()), model.config.digest())
        if key in first:
            signal.model = first[key]  # type: ignore[attr-defined]
            shared += 1
        else:
            first[key] = model
    return shared
