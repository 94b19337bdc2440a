"""What a model does: pixels or words in, unit vectors out.

:func:`preprocess` is pure and matches the config exactly (resize, crop, scale to
[0, 1], subtract the mean, divide by the std); the encoders batch, run a
:class:`~.runtime.Session`, pool and L2-normalise.  Sessions start on first use,
so a process that forks workers has made none yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lookalike.decode import resize
from lookalike.errors import ModelError
from lookalike.models.config import ImageTower, ModelConfig, Pooling, TextTower
from lookalike.models.runtime import Session

__all__ = ["ImageEncoder", "TextEncoder", "crop_box", "normalise", "preprocess"]

SessionMaker = Callable[[Path], Session]


def crop_box(width: int, height: int, tower: ImageTower) -> tuple[int, int, int, int]:
    """The part of a ``width`` x ``height`` image the model sees, before resizing to ``tower.size``.

    'shortest' + 'center' takes the centred square of the short side, which is
    what scaling the short side to ``size`` and centre-cropping gives.
    """
    if tower.resize == "squash" or tower.crop == "none":
        return 0, 0, width, height
    side = min(width, height)
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


class ImageEncoder(_Tower):
    """Images to unit vectors with a model's image tower."""

    def __init__(self, config: ModelConfig, folder: Path, make_session: SessionMaker) -> None:
        super().__init__(folder / config.image.file, make_session)
        self.config, self.tower = config, config.image

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(len(images), dim) unit vectors."""
        if not images:
            return np.zeros((0, self.config.dim), dtype=np.float32)
        session = self.session
        feeds = {self.tower.input or session.inputs[0]: preprocess(images, self.tower)}
        vectors = pool(session.run(feeds, self.tower.output), self.tower.pooling)
        return _checked(normalise(vectors), self.config, self._path)


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
