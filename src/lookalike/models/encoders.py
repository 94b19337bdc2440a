"""What a model does: pixels or words in, unit vectors out.

:func:`preprocess` is pure and matches the config exactly (resize, crop, scale to
[0, 1], subtract the mean, divide by the std); the encoders batch, run a
:class:`~.runtime.Session`, pool and L2-normalise.  Sessions start on first use,
so a process that forks workers has made none yet.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lookalike.decode import resize
from lookalike.errors import ModelError
from lookalike.models.config import ImageTower, ModelConfig, Pooling, TextTower
from lookalike.models.runtime import Session

__all__ = ["ImageEncoder", "ImageOutputs", "TextEncoder", "crop_box", "normalise", "preprocess", "softmax"]

SessionMaker = Callable[[Path], Session]


def crop_box(width: int, height: int, tower: ImageTower) -> tuple[int, int, int, int]:
    """The part of a ``width`` x ``height`` image the model sees, before resizing to ``tower.size``.

    'shortest' + 'center' takes the centred square of the short side, which is
    what scaling the short side to ``size`` and centre-cropping gives; with a
    ``crop_fraction`` under 1, a centred square that share of the short side (the
    usual evaluation crop of ImageNet models, 0.875, keeps 224 of 256).
    """
    if tower.resize == "squash" or tower.crop == "none":
        return 0, 0, width, height
    side = max(1, int(tower.crop_fraction * min(width, height)))
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def preprocess(images: Sequence[Image.Image], tower: ImageTower) -> np.ndarray:
    """A float32 batch in the model's layout: resized, cropped, scaled, standardised."""
    mean = np.asarray(tower.mean, dtype=np.float32)
    std = np.asarray(tower.std, dtype=np.float32)
    batch = np.empty((len(images), tower.size, tower.size, 3), dtype=np.float32)
    for i, image in enumerate(images):
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        box = crop_box(*rgb.size, tower)
        if box != (0, 0, *rgb.size):
            rgb = rgb.crop(box)
        # area-average down, nearest-neighbour up: pixel art stays sharp, as for every signal
        pixels = np.asarray(resize(rgb, tower.size, tower.size), dtype=np.float32)
        batch[i] = (pixels / 255.0 - mean) / std
    return batch if tower.layout == "nhwc" else np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def pool(output: np.ndarray, pooling: Pooling, mask: np.ndarray | None = None) -> np.ndarray:
    """One vector per input from a model output of shape (n, dim), (n, tokens, dim) or (n, dim, h, w)."""
    if pooling is Pooling.NONE or output.ndim == 2:
        return output.reshape(len(output), -1)
    if pooling is Pooling.CLS:
        return np.asarray(output[:, 0, :])
    if output.ndim == 4:  # a feature map (n, dim, h, w)
        return np.asarray(output.mean(axis=(2, 3)))
    if mask is not None:
        weights = mask[:, :, None].astype(np.float32)
        return np.asarray((output * weights).sum(1) / np.maximum(weights.sum(1), 1.0))
    return np.asarray(output.mean(axis=1))


class _Tower:
    """One ONNX file of a model, its session made on first use."""

    def __init__(self, path: Path, make_session: SessionMaker) -> None:
        self._path, self._make = path, make_session
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._make(self._path)
        return self._session


@dataclass(frozen=True)
class ImageOutputs:
    """What one inference pass over a batch gives: unit embeddings and class probabilities
    (either is None when the model has no such output)."""

    embeddings: np.ndarray | None
    probabilities: np.ndarray | None


class ImageEncoder(_Tower):
    """Images to unit vectors (and class probabilities) with a model's image tower.

    Both outputs come from one pass: :meth:`outputs` runs the model once per batch
    and remembers the last batch, so the ``embedding`` and ``tags`` signals over the
    same model and the same decoded images share that pass.
    """

    def __init__(self, config: ModelConfig, folder: Path, make_session: SessionMaker) -> None:
        super().__init__(folder / config.image.file, make_session)
        self.config, self.tower = config, config.image
        self._last: tuple[tuple[Image.Image, ...], ImageOutputs] | None = None

    def outputs(self, images: Sequence[Image.Image], batch_size: int = 0) -> ImageOutputs:
        """Embeddings and probabilities of ``images``, one run per ``batch_size`` of them (0: one
        run for all), or what the last call gave, if it asked for the same image objects."""
        batch = tuple(images)
        last = self._last
        if last is not None and len(last[0]) == len(batch) and all(map(operator.is_, last[0], batch)):
            return last[1]
        step = batch_size or max(len(batch), 1)
        parts = [self._run(batch[at : at + step]) for at in range(0, len(batch), step)] or [self._run(())]
        found = parts[0] if len(parts) == 1 else _joined(parts)
        self._last = (batch, found)  # held, so the ids compared above stay those of live images
        return found

    def _run(self, images: Sequence[Image.Image]) -> ImageOutputs:
        if not images:
            vectors = np.zeros((0, self.config.dim), dtype=np.float32) if self.config.embeds else None
            return ImageOutputs(
                vectors, np.zeros((0, 0), dtype=np.float32) if self.config.classifies else None
            )
        session = self.session
        names = []
        if self.config.embeds:
            names.append(self.tower.output or session.outputs[0])
        if self.tower.logits is not None:
            names.append(self.tower.logits)
        feeds = {self.tower.input or session.inputs[0]: preprocess(images, self.tower)}
        found = session.run_many(feeds, names)
        vectors = (
            _checked(normalise(pool(found[0], self.tower.pooling)), self.config, self._path)
            if self.config.embeds
            else None
        )
        probabilities = softmax(found[-1].reshape(len(images), -1)) if self.tower.logits is not None else None
        return ImageOutputs(vectors, probabilities)

    def embed(self, images: Sequence[Image.Image], batch_size: int = 0) -> np.ndarray:
        """(len(images), dim) unit vectors."""
        if not self.config.embeds:
            raise ModelError(
                f"model '{self.config.name}' is a classifier: it gives class logits, no embedding"
            )
        found = self.outputs(images, batch_size).embeddings
        assert found is not None
        return found

    def classify(self, images: Sequence[Image.Image], batch_size: int = 0) -> np.ndarray:
        """(len(images), classes) probabilities (a softmax of the logits)."""
        found = self.outputs(images, batch_size).probabilities
        if found is None:
            raise ModelError(f"model '{self.config.name}' has no class logits (image.logits) to tag with")
        return found


def _joined(parts: Sequence[ImageOutputs]) -> ImageOutputs:
    """The outputs of consecutive batches as one."""

    def stack(arrays: list[np.ndarray | None]) -> np.ndarray | None:
        return None if any(a is None for a in arrays) else np.vstack([a for a in arrays if a is not None])

    return ImageOutputs(stack([p.embeddings for p in parts]), stack([p.probabilities for p in parts]))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Rows of logits as probabilities."""
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits, axis=1, keepdims=True)
    odds = np.exp(shifted)
    return np.asarray(odds / odds.sum(axis=1, keepdims=True), dtype=np.float32)


class TextEncoder(_Tower):
    """Words to unit vectors with a model's text tower and its tokenizer."""

    def __init__(self, config: ModelConfig, folder: Path, make_session: SessionMaker) -> None:
        if config.text is None:
            raise ModelError(f"model '{config.name}' has no text tower")
        super().__init__(folder / config.text.file, make_session)
        self.config, self.tower = config, config.text
        self._tokenizer = _load_tokenizer(folder / config.text.tokenizer, self.tower)

    def tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, (len(texts), context_length) int64, padded with pad_id."""
        n = self.tower.context_length
        ids = np.full((len(texts), n), self.tower.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), n), dtype=np.int64)
        for row, encoding in enumerate(self._tokenizer.encode_batch(list(texts))):
            found = encoding.ids[:n]
            ids[row, : len(found)] = found
            mask[row, : len(found)] = 1
        return ids, mask

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) unit vectors."""
        session = self.session
        ids, mask = self.tokens(texts)
        feeds = {self.tower.input or session.inputs[0]: ids}
        if self.tower.mask_input and self.tower.mask_input in session.inputs:
            feeds[self.tower.mask_input] = mask
        vectors = pool(session.run(feeds, self.tower.output), self.tower.pooling, mask)
        return _checked(normalise(vectors), self.config, self._path)


def _load_tokenizer(path: Path, tower: TextTower) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ModelError("text models need the tokenizers package: pip install 'lookalike[models]'") from None
    if not path.is_file():
        raise ModelError(f"tokenizer file {path} is missing")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:
        raise ModelError(f"cannot read tokenizer {path}: {exc}") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _checked(vectors: np.ndarray, config: ModelConfig, path: Path) -> np.ndarray:
    if vectors.shape[1] != config.dim:
        raise ModelError(
            f"{path} gives {vectors.shape[1]} values per input, but its config says dim={config.dim}"
        )
    if not np.isfinite(vectors).all():
        raise ModelError(f"{path} gave values that are not finite")
    return vectors
