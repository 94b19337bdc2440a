"""Classifier tags: the ``tags`` signal names what a picture shows with a classifier's labels.

A model with class logits and a labels file (ImageNet's 1000 classes, say) gives each
image its most probable classes; those at or above a probability threshold, at most a
few, become text fields:

- ``tag``: the class as people read it ("golden retriever" for ``n02099601 golden retriever``),
  with the class probability as its confidence; results show these and the page counts
  them in the tag facet;
- ``synonym``: the other names of the class ("tabby cat" for "tabby, tabby cat"), so
  keyword search finds them too.

Broader terms (WordNet hypernyms: "dog" for "golden retriever") are not added: no package
on PyPI ships the WordNet hierarchy for offline use (see docs/models.md).

The fields go to keyword search like OCR's (``search --text "golden retriever"``).  When
the ``embedding`` signal runs the same model file, both read one inference pass (see
:func:`lookalike.signals.neural.share_passes`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from lookalike.decode import DecodedImage
from lookalike.errors import ModelError
from lookalike.models import LoadedModel
from lookalike.records import TextField
from lookalike.signals.base import BaseTextSignal, Capability, Kind, Metric, SignalSpec

__all__ = ["ClassTags"]


class ClassTags(BaseTextSignal):
    """Words for what the picture shows, from a classifier's most probable classes."""

    capabilities = frozenset({Capability.TEXT, Capability.TAGS})

    def __init__(
        self, model: LoadedModel, threshold: float = 0.2, most: int = 3, batch_size: int = 16
    ) -> None:
        if model.labels is None or not model.config.classifies:
            raise ModelError(
                f"model '{model.config.name}' has no class logits and labels (image.logits, image.labels): "
                "it cannot tag images; install a classifier (`lookalike models add NAME FILE.onnx --labels FILE`)"
            )
        self.model, self.labels = model, model.labels
        self.threshold, self.most, self.batch_size = threshold, most, batch_size
        self.input_size = model.config.image.size
        # the tags depend on the model and on what is kept of its guesses: a change is a backfill
        identity = f"{model.config.digest()}:{threshold:.4f}:{most}".encode()
        self.spec = SignalSpec(
            "tags", int(hashlib.sha256(identity).hexdigest()[:7], 16), Kind.TEXT, Metric.WORDS, 0, "uint8"
        )
        self.description = f"tags from the classes of model {model.config.name} (searchable with --text)"

    def read(self, image: DecodedImage) -> list[TextField]:
        return self.fields(self.model.image.classify([image.image])[0])

    def extract_batch(self, images: Sequence[DecodedImage]) -> list[np.ndarray]:
        if not images:
            return []
        probabilities = self.model.image.classify([i.image for i in images], self.batch_size)
        return [self.pack(self.fields(row)) for row in probabilities]

    def fields(self, probabilities: np.ndarray) -> list[TextField]:
        """The tags (and their synonyms) of one image's class probabilities, most probable first."""
        if self.most <= 0:
            return []
        best = np.argsort(-probabilities, kind="stable")[: self.most]
        fields: list[TextField] = []
        for j in best:
            p = float(probabilities[j])
            if p < self.threshold:
                break
            label = self.labels[int(j)]
            fields.append(TextField("tag", label.tag, round(p, 4)))
            fields += [TextField("synonym", name, round(p, 4)) for name in label.synonyms]
        return fields
