"""Zero-shot tags: the words of a vocabulary whose CLIP text embedding is nearest an image's.

Tags are computed when results are shown, from the stored ``clip`` feature (the
planner's cached rows, already read for re-scoring) and the vocabulary's text
embeddings (made once per collection opening), rather than stored per image: a changed vocabulary or threshold applies at once, with no
backfill, and a page of results costs one small matrix product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from lookalike.signals.base import TextQuerySignal

__all__ = ["DEFAULT_VOCABULARY", "Tagger"]

#: Everyday subjects, and the kinds of picture a game-art or photo collection holds.
DEFAULT_VOCABULARY = (
    "animal", "bird", "cat", "dog", "horse", "fish", "insect", "dragon", "monster", "robot",
    "person", "face", "crowd", "child", "knight", "wizard", "soldier", "character",
    "tree", "flower", "forest", "grass", "mountain", "beach", "sea", "river", "lake", "desert",
    "snow", "sky", "sunset", "night", "cloud", "field", "garden", "cave",
    "city", "street", "building", "house", "castle", "church", "bridge", "road", "room", "kitchen",
    "car", "bicycle", "train", "boat", "airplane", "spaceship",
    "food", "fruit", "drink", "cake",
    "sword", "shield", "weapon", "armor", "potion", "coin", "treasure chest", "key", "gem",
    "furniture", "book", "clock", "computer", "phone", "shoe", "clothing", "bag", "toy",
    "sprite", "tile", "tileset", "pixel art", "icon", "button", "user interface", "map",
    "platform", "background", "logo", "text", "screenshot", "drawing", "painting", "cartoon",
    "diagram", "pattern", "texture", "photo",
)  # fmt: skip

TEMPERATURE = 100.0  # CLIP's logit scale: cosines a few hundredths apart become clear odds
MIN_SHARE = 0.05  # a tag must take at least this share of the image's probability over the vocabulary


class Tagger:
    """Top zero-shot tags of indexed images."""

    def __init__(self, signal: TextQuerySignal, vocabulary: Sequence[str], per_image: int) -> None:
        self.signal, self.per_image = signal, per_image
        self.vocabulary = list(dict.fromkeys(w.strip() for w in vocabulary if w.strip()))
        self._words: np.ndarray | None = None

    def words(self) -> np.ndarray:
        """The vocabulary's text embeddings, made on first use ("a picture of a ...")."""
        if self._words is None:
            prompts = [f"a picture of a {word}" for word in self.vocabulary]
            self._words = self.signal.embed_text(prompts) if prompts else np.zeros((0, self.signal.spec.dim))
        return self._words

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """(n, vocabulary) probabilities of each word for each image vector."""
        logits = TEMPERATURE * (np.asarray(vectors, dtype=np.float32) @ self.words().T)
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return np.asarray(odds / odds.sum(axis=1, keepdims=True))

    def tag(self, vectors: np.ndarray) -> list[tuple[str, ...]]:
        if self.per_image <= 0 or not self.vocabulary or len(vectors) == 0:
            return [() for _ in range(len(vectors))]
        shares = self.scores(vectors)
        best = np.argsort(-shares, axis=1)[:, : self.per_image]
        return [
            tuple(self.vocabulary[j] for j in row if shares[i, j] >= MIN_SHARE) for i, row in enumerate(best)
        ]

    def __call__(self, stored: Mapping[int, np.ndarray]) -> Mapping[int, tuple[str, ...]]:
        """Tags of images given their stored clip vectors (the planner's cached rows), by id."""
        if not stored:
            return {}
        ids = list(stored)
        vectors = self.signal.index_vectors(np.stack([stored[i] for i in ids]))
        return dict(zip(ids, self.tag(vectors), strict=True))
