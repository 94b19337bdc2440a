"""RapidOCR's text detector in 8-bit integers: made once per machine, about four times faster.

Detection runs on every image the ``ocr`` signal reads, text or not, so it is what OCR
costs a collection of photos.  The float model in the rapidocr wheel takes about 150 ms
for a 512x384 view on one core; the same network with int8 weights and activations
(ONNX Runtime's static quantization: QDQ, per-channel weights, activation ranges
calibrated on images this module draws) takes about 40 ms and finds the same text
(see docs/benchmarks.md, "OCR").

The quantized model is derived, never downloaded: :func:`int8_detector` makes it from the
wheel's model into a folder (``models.folder``/rapidocr) the first time it is asked for,
keyed by the source model's hash and :data:`RECIPE`, under a file lock so that worker
processes make it once.  It checks the result against the float model on held-out drawn
images and, if they disagree, keeps the float model and says why.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["RECIPE", "Int8Unavailable", "calibration_views", "int8_detector"]

_log = logging.getLogger(__name__)

#: Bump when the recipe changes: the file name holds it, so an old model is never reused.
RECIPE = 1
CALIBRATION_IMAGES = 24
CHECK_IMAGES = 4
_WORDS = [
    "SALE",
    "open",
    "Level",
    "42",
    "Dragon",
    "Castle",
    "menu",
    "Start",
    "Game",
    "options",
    "EXIT",
    "café",
    "2026",
    "Hello",
    "page",
    "Photo",
]


class Int8Unavailable(Exception):
    """The int8 detector cannot be made here (the onnx package is missing, or it disagreed)."""


def int8_detector(source: Path, folder: Path) -> Path:
    """The int8 version of the detection model at ``source``, made into ``folder`` if not there yet."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = folder / f"{source.stem}.int8-r{RECIPE}-{digest}.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".int8.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # worker processes wait for the first one's model
        if target.is_file():
            return target
        _log.warning("making the 8-bit OCR text detector for this machine, once (about 10 s): %s", target)
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            made = _quantize(source, Path(scratch))
            _check(source, made)
            os.replace(made, target)
    return target


def _quantize(source: Path, scratch: Path) -> Path:
    try:
        import onnx
        from onnx import version_converter
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise Int8Unavailable(
            f"the onnx package is not installed ({exc}): pip install 'lookalike[ocr]'"
        ) from None
    model = onnx.load(str(source))
    if model.opset_import[0].version < 13:  # per-channel weights need opset 13
        model = version_converter.convert_version(model, 13)
    opset, prepared, out = scratch / "opset.onnx", scratch / "prepared.onnx", scratch / "int8.onnx"
    onnx.save(model, str(opset))
    quant_pre_process(str(opset), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(out),
        _Reader(model.graph.input[0].name, calibration_views(CALIBRATION_IMAGES, seed=1)),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )
    return out


class _Reader:
    """Calibration inputs for ``quantize_static`` (its CalibrationDataReader protocol)."""

    def __init__(self, name: str, views: Iterator[np.ndarray]) -> None:
        self.name, self.views = name, views

    def get_next(self) -> dict[str, np.ndarray] | None:
        view = next(self.views, None)
        return None if view is None else {self.name: view}


def _check(source: Path, made: Path) -> None:
    """Refuse an int8 model whose text map differs from the float model's on drawn images."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    float_model, int8_model = (
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for path in (source, made)
    )
    name = float_model.get_inputs()[0].name
    for view in calibration_views(CHECK_IMAGES, seed=2):
        want = float_model.run(None, {name: view})[0] > 0.3
        got = int8_model.run(None, {name: view})[0] > 0.3
        union = np.logical_or(want, got).sum()
        if union and np.logical_and(want, got).sum() / union < 0.8:
            raise Int8Unavailable("the 8-bit detector finds other text than the float one on this machine")


def calibration_views(count: int, seed: int) -> Iterator[np.ndarray]:
    """Drawn images as the detector sees them: busy backgrounds, words in several sizes, colours
    and angles (one in four without text), BGR, scaled to [-1, 1], NCHW, sides multiples of 32."""
    rng = random.Random(seed)
    for i in range(count):
        width, height = rng.choice([(512, 384), (384, 512), (512, 288), (448, 448)])
        image = _background(rng, width, height)
        if i % 4:
            _draw_words(rng, image)
        pixels = np.asarray(image, dtype=np.float32)[..., ::-1] / 127.5 - 1.0
        yield np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])


def _background(rng: random.Random, width: int, height: int) -> Image.Image:
    """Something like a photo: a smooth colour field with shapes and grain."""
    noise = np.random.default_rng(rng.randrange(1 << 30))
    field = Image.fromarray(noise.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(field)
    for _ in range(rng.randrange(3, 9)):
        x, y = rng.randrange(width), rng.randrange(height)
        box = (x, y, x + rng.randrange(20, width // 2), y + rng.randrange(20, height // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    field = field.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 3)))
    grain = noise.normal(0, rng.uniform(2, 12), (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(field, dtype=np.float32) + grain, 0, 255).astype(np.uint8))


def _draw_words(rng: random.Random, image: Image.Image) -> None:
    for _ in range(rng.randrange(1, 4)):
        text = " ".join(rng.sample(_WORDS, rng.randrange(1, 4)))
        font = ImageFont.load_default(rng.choice([12, 16, 20, 28, 40, 56]))
        layer = Image.new("RGBA", image.size)
        draw = ImageDraw.Draw(layer)
        x, y = rng.randrange(image.width // 2), rng.randrange(image.height - 60)
        ink = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.3:  # on a banner
            left, top, right, bottom = draw.textbbox((x, y), text, font=font)
            draw.rectangle((left - 6, top - 4, right + 6, bottom + 4), fill=(*(255 - c for c in ink), 200))
        draw.text(
            (x, y), text, font=font, fill=(*ink, 255), stroke_width=rng.choice([0, 0, 2]), stroke_fill="black"
        )
        turned = layer.rotate(rng.choice([0, 0, 5, -5, 15]), center=(x, y))
        image.paste(turned, (0, 0), turned)
