"""Text inside images: the ``ocr`` signal reads lines of text with their boxes and confidences.

Two engines, both offline:

- ``rapidocr`` (the default): PP-OCR text detection, direction classification and
  recognition as ONNX models inside the ``rapidocr`` wheel, run by ONNX Runtime.
  Detection runs first; recognition only where it found text.
- ``tesseract``: Debian's ``tesseract-ocr`` through ``pytesseract``.

Lines become :class:`~lookalike.records.TextField` rows (field ``line``) with a box given as
the quad's four corners in [0, 1] of the image, so the page can draw it at any size.  The
words go to keyword search like every text signal's (see :mod:`lookalike.search.words`
for the matching that tolerates OCR's errors).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lookalike.decode import DecodedImage
from lookalike.errors import ModelError, SignalError
from lookalike.records import TextField
from lookalike.settings import OcrSettings
from lookalike.signals.base import BaseTextSignal, Kind, Metric, SignalSpec

__all__ = ["Line", "Ocr", "OcrEngine", "engine_status", "make_engine"]

_log = logging.getLogger(__name__)
_WORDY = re.compile(r"\w")  # a line of only punctuation (":", "|") is noise read from edges


@dataclass(frozen=True)
class Line:
    """One line of text an engine read: its words, confidence and quad in pixels of the view."""

    text: str
    confidence: float
    quad: tuple[tuple[float, float], ...]  # four corners, clockwise from the top left


class OcrEngine(Protocol):
    name: str
    models: str  # what it runs, for `lookalike doctor`

    def read(self, rgb: np.ndarray) -> list[Line]: ...


class Ocr(BaseTextSignal):
    """Lines of text read from the image, skipping images too small to hold any."""

    spec = SignalSpec("ocr", 1, Kind.TEXT, Metric.WORDS, 0, "uint8")
    description = "text inside the image (OCR), searchable with --text, typos tolerated"

    def __init__(
        self, settings: OcrSettings, engine: OcrEngine | None = None, cache: Path | None = None
    ) -> None:
        """``cache``: where models derived on this machine are kept (the 8-bit detector)."""
        self.settings, self.cache = settings, cache
        self.input_size = settings.view_size
        self._engine = engine

    @property
    def engine(self) -> OcrEngine:
        if self._engine is None:  # loaded on first use: worker processes each load their own
            self._engine = make_engine(self.settings, self.cache)
        return self._engine

    def read(self, image: DecodedImage) -> list[TextField]:
        width, height = image.image.size
        if max(width, height) < self.settings.min_size:
            return []  # a sprite, a tile, an icon: too small to hold readable text
        try:
            lines = self.engine.read(image.rgb(width, height))
        except ModelError:
            raise
        except Exception as exc:  # a hostile image can trip the engine: recorded, and the pass goes on
            raise SignalError(
                f"the {self.engine.name} OCR engine failed: {type(exc).__name__}: {exc}"
            ) from exc
        return [
            TextField(
                "line", line.text.strip(), round(line.confidence, 4), _unit_quad(line.quad, width, height)
            )
            for line in lines
            if _WORDY.search(line.text) and line.confidence >= self.settings.min_confidence
        ]


def _unit_quad(quad: Sequence[Sequence[float]], width: int, height: int) -> tuple[float, ...]:
    return tuple(
        round(min(max(v / size, 0.0), 1.0), 4) for x, y in quad for v, size in ((x, width), (y, height))
    )


# ---- engines ------------------------------------------------------------------------------


def make_engine(settings: OcrSettings, cache: Path | None = None) -> OcrEngine:
    """The engine ``ocr.engine`` names, loaded; a clear :class:`ModelError` when it cannot be."""
    if settings.engine == "tesseract":
        return Tesseract(settings)
    return RapidOcr(settings, cache)


def engine_status(settings: OcrSettings, cache: Path | None = None) -> tuple[bool, str]:
    """(available, what it runs or why not), without loading models."""
    try:
        if settings.engine == "tesseract":
            import pytesseract

            return True, f"tesseract {pytesseract.get_tesseract_version()} ({settings.languages})"
        from importlib.metadata import version

        import rapidocr  # noqa: F401  (importable, not only installed)

        return (
            True,
            f"rapidocr {version('rapidocr')}: PP-OCR detection, direction and recognition models (ONNX) in its "
            f"wheel; {_int8_status(settings, cache)}",
        )
    except Exception as exc:  # ImportError, or pytesseract's binary missing
        return False, str(exc) or type(exc).__name__


class RapidOcr:
    """RapidOCR on ONNX Runtime with the models its wheel ships (nothing is downloaded)."""

    name = "rapidocr"

    def __init__(self, settings: OcrSettings, cache: Path | None = None) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError:
            raise ModelError("the OCR signal needs RapidOCR: pip install 'lookalike[ocr]'") from None
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)  # it logs every call at INFO
        detector = _int8_detector(cache) if settings.int8 and cache is not None else None
        self.models = (
            f"PP-OCR detection ({'8-bit, made here: ' + str(detector) if detector else 'float'}), direction and "
            "recognition (ONNX, in the rapidocr wheel)"
        )
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.text_score": settings.min_confidence,
            "Det.limit_type": "max",
            "Det.limit_side_len": settings.view_size,
            "EngineConfig.onnxruntime.intra_op_num_threads": settings.threads or -1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        if detector is not None:
            params["Det.model_path"] = str(detector)
        try:
            self._ocr = RapidOCR(params=params)
        except Exception as exc:  # a model missing from the wheel would be fetched: we are offline
            raise ModelError(f"RapidOCR could not load its models: {exc}") from None

    def read(self, rgb: np.ndarray) -> list[Line]:
        out: Any = self._ocr(np.ascontiguousarray(rgb[..., ::-1]))  # RapidOCR reads arrays as BGR
        if out.boxes is None or out.txts is None:
            return []
        return [
            Line(str(text), float(score), tuple((float(x), float(y)) for x, y in box))
            for text, score, box in zip(out.txts, out.scores, np.asarray(out.boxes).tolist(), strict=True)
        ]


def _int8_status(settings: OcrSettings, cache: Path | None) -> str:
    if not settings.int8 or cache is None:
        return "float detector (ocr.int8 is off)"
    made = sorted(cache.glob("*.int8-*.onnx"))
    return f"8-bit detector {made[-1]}" if made else f"8-bit detector made on first use into {cache}"


def _int8_detector(cache: Path) -> Path | None:
    """The 8-bit copy of the wheel's detection model (see :mod:`lookalike.signals.ocr_int8`), or
    None, with a warning saying why, when it cannot be made (the float model is used then)."""
    import rapidocr

    from lookalike.signals.ocr_int8 import Int8Unavailable, int8_detector

    shipped = sorted((Path(rapidocr.__file__).parent / "models").glob("*_det_*.onnx"))
    if len(shipped) != 1:
        _log.warning(
            "rapidocr ships %d detection models, not one: detecting with the float model", len(shipped)
        )
        return None
    try:
        return int8_detector(shipped[0], cache)
    except Int8Unavailable as exc:
        _log.warning("%s; detecting with the float model (set ocr.int8=false to silence this)", exc)
        return None


class Tesseract:
    """Tesseract through pytesseract: words grouped into lines, each line's box its words' bounds."""

    name = "tesseract"

    def __init__(self, settings: OcrSettings) -> None:
        try:
            import pytesseract

            self.models = f"tesseract {pytesseract.get_tesseract_version()} ({settings.languages})"
        except Exception as exc:
            raise ModelError(
                f"the tesseract OCR engine is not usable ({exc}): apt-get install tesseract-ocr and "
                "pip install pytesseract, or set ocr.engine=rapidocr"
            ) from None
        self._pytesseract = pytesseract
        self.languages = settings.languages

    def read(self, rgb: np.ndarray) -> list[Line]:
        data = self._pytesseract.image_to_data(
            rgb, lang=self.languages, output_type=self._pytesseract.Output.DICT
        )
        lines: dict[tuple[int, int, int], list[int]] = {}
        for i, word in enumerate(data["text"]):
            if _WORDY.search(word) and float(data["conf"][i]) >= 0:  # a lone "'" or "|" is an edge read
                key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
                lines.setdefault(key, []).append(i)
        return [_tesseract_line(data, words) for words in lines.values()]


def _tesseract_line(data: dict[str, list[Any]], words: list[int]) -> Line:
    x0 = min(data["left"][i] for i in words)
    y0 = min(data["top"][i] for i in words)
    x1 = max(data["left"][i] + data["width"][i] for i in words)
    y1 = max(data["top"][i] + data["height"][i] for i in words)
    confidence = float(np.mean([float(data["conf"][i]) for i in words])) / 100
    text = " ".join(str(data["text"][i]) for i in words)
    return Line(text, confidence, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))
