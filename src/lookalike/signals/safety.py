"""The safety flag: exposure found by the NudeNet detector, so that a page can blur or hide it.

The detector is the ONNX model inside the ``nudenet`` wheel (``pip install 'lookalike[safety]'``;
nothing is downloaded), a YOLOv8 network with a 320x320 input whose output holds, per anchor,
four box values and one score for each of 18 classes (faces, feet, bellies, armpits, breasts,
buttocks, genitals, anus; exposed or covered).  ``safety.model`` may name another ONNX file of
the same shape.

Each image's best score per class (from 0.2, the score NudeNet keeps a box from) is stored as its
feature, so ``lookalike info`` shows every label the detector saw.  The flag is raised, with
those labels and scores as its reason, when a class in ``safety.labels`` (by default the exposed
genitals, breasts, buttocks and anus) reaches ``safety.threshold``.  Unlike junk, flagged images
stay in results unless a search asks to be safe (``--safe``); the page blurs them by default.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from PIL import Image

from lookalike.decode import DecodedImage
from lookalike.errors import ModelError
from lookalike.models.runtime import OnnxSession
from lookalike.settings import SafetySettings
from lookalike.signals.base import BaseFlagSignal, Kind, Metric, SignalSpec

__all__ = ["CLASSES", "Safety", "bundled_model"]

#: The detector's classes, in the order of its output rows (after the four box rows).
CLASSES = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
SIDE = 320  # the detector's input side
KEPT = 0.2  # scores below this are not stored (NudeNet drops such boxes too)
VERSION = 1  # bump when what is stored or flagged changes


def bundled_model() -> Path | None:
    """The detector inside the installed ``nudenet`` wheel, or None without the package."""
    spec = find_spec("nudenet")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "320n.onnx"
    return path if path.is_file() else None


class Safety(BaseFlagSignal):
    """Flags exposure (NudeNet's classes) with the labels and scores; shown blurred, hidden if asked."""

    input_size = SIDE
    hides = False  # results keep flagged images unless the search asks to be safe
    description = "exposure found by the NudeNet detector: blurred on the page, hidden with --safe"

    def __init__(
        self, settings: SafetySettings | None = None, providers: Sequence[str] = ("auto",), threads: int = 0
    ):
        self.settings = settings or SafetySettings()
        unknown = sorted(set(self.settings.labels) - set(CLASSES))
        if unknown:
            raise ModelError(
                f"safety.labels has {', '.join(unknown)}, not a detector class ({', '.join(CLASSES)})"
            )
        path = self.settings.model or bundled_model()
        if path is None:
            raise ModelError(
                "the safety signal needs the NudeNet detector: pip install 'lookalike[safety]' "
                "(or set safety.model to an ONNX file of its shape)"
            )
        self.session = OnnxSession(Path(path), providers, threads)
        self.spec = SignalSpec("safety", _version(self.settings), Kind.FLAG, Metric.NONE, 0, "uint8")

    def scores(self, images: Sequence[DecodedImage]) -> list[dict[str, float]]:
        """Each image's best score per detector class, those from 0.2, best first."""
        batch = np.stack([_letterboxed(image.image) for image in images])
        output = self.session.run({self.session.inputs[0]: batch})
        if output.ndim != 3 or output.shape[1] != 4 + len(CLASSES):
            raise ModelError(
                f"{self.session.path} gives output {list(output.shape)}; the safety signal needs "
                f"[batch, {4 + len(CLASSES)}, anchors] (NudeNet's detector)"
            )
        best = output[:, 4:, :].max(axis=2)
        found = []
        for row in best:
            kept = {CLASSES[j]: round(float(s), 3) for j, s in enumerate(row) if s >= KEPT}
            found.append(dict(sorted(kept.items(), key=lambda item: -item[1])))
        return found

    def extract(self, image: DecodedImage) -> np.ndarray:
        return self.extract_batch([image])[0]

    def extract_batch(self, images: Sequence[DecodedImage]) -> list[np.ndarray]:
        return [np.frombuffer(json.dumps(s).encode(), dtype=np.uint8)[None, :] for s in self.scores(images)]

    def judge(self, image: DecodedImage) -> str | None:
        return self.reason(self.extract(image))

    def reason(self, feature: np.ndarray) -> str | None:
        return self.verdict(json.loads(bytes(feature.ravel()).decode() or "{}"))

    def verdict(self, scores: dict[str, float]) -> str | None:
        """'FEMALE_BREAST_EXPOSED 0.87, BUTTOCKS_EXPOSED 0.55' for the flagging classes, or None."""
        flagging = [
            f"{label} {score:.2f}"
            for label, score in scores.items()
            if label in self.settings.labels and score >= self.settings.threshold
        ]
        return ", ".join(flagging) or None


def _letterboxed(image: Image.Image) -> np.ndarray:
    """The image scaled to fit 320x320, top left on black (as NudeNet pads), as CHW floats in [0, 1]."""
    scale = SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    canvas = Image.new("RGB", (SIDE, SIDE))
    canvas.paste(image.convert("RGB").resize(size, Image.Resampling.BILINEAR), (0, 0))
    return np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1) / 255.0


def _version(settings: SafetySettings) -> int:
    """1 with the default settings; other labels, threshold or model flag other images."""
    if settings == SafetySettings():
        return VERSION
    key = f"{VERSION}:{settings.threshold}:{sorted(settings.labels)}:{settings.model}"
    return zlib.crc32(key.encode()) & 0x7FFFFFFF
