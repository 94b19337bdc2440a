"""Settings of the model-backed signals: OCR, the junk filter and neural models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["EXPOSED", "JunkSettings", "ModelSettings", "OcrSettings", "SafetySettings"]

#: The NudeNet classes that flag an image by default: exposed genitals, breasts, buttocks, anus.
EXPOSED = (
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
)


def _default_model_folder() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lookalike" / "models"


class OcrSettings(BaseModel):
    """The ``ocr`` signal: text inside images (``pip install 'lookalike[ocr]'``)."""

    engine: Literal["rapidocr", "tesseract"] = Field(
        "rapidocr",
        description="OCR engine: 'rapidocr' (PP-OCR ONNX models shipped in its wheel, offline) or "
        "'tesseract' (Debian's tesseract-ocr through pytesseract).",
    )
    languages: str = Field(
        "eng", description="Tesseract languages, e.g. 'eng+deu' (rapidocr reads Latin and Chinese)."
    )
    min_size: int = Field(
        64,
        ge=0,
        description="Images whose longer side is shorter, in pixels, are not read (sprites, tiles, icons).",
    )
    min_confidence: float = Field(0.5, ge=0, le=1, description="Lines read with less confidence are dropped.")
    view_size: int = Field(
        960,
        ge=64,
        le=4096,
        description="Long side, in pixels, of the view OCR reads (larger: smaller text, slower).",
    )
    threads: int = Field(1, ge=0, description="Threads one OCR engine uses; 0: the engine's default.")
    int8: bool = Field(
        True,
        description="rapidocr: detect text with an 8-bit copy of the detection model, about 4x faster, made "
        "once per machine into models.folder/rapidocr (needs the onnx package); false: the float model as shipped.",
    )


class JunkSettings(BaseModel):
    """The ``junk`` flag: blank, tiny, spacer and placeholder images, left out of results."""

    min_side: int = Field(
        32,
        ge=0,
        description="Images whose long side is shorter, in pixels, are junk ('tiny'), unless pixel art.",
    )
    pixel_art: Literal["auto", "yes", "no"] = Field(
        "auto",
        description="Whether the collection is pixel art: 'auto' (a tiny image of at most 32 colours is a "
        "sprite, not junk), 'yes' (no image is junk for its size alone: neither tiny nor a placeholder), 'no'.",
    )


class SafetySettings(BaseModel):
    """The ``safety`` flag: exposure found by the NudeNet detector (``pip install 'lookalike[safety]'``)."""

    threshold: float = Field(
        0.5, ge=0.2, le=1, description="Detector score from which a class in safety.labels flags an image."
    )
    labels: list[str] = Field(
        default_factory=lambda: list(EXPOSED),
        description="Detector classes that flag an image (JSON list); the default: exposed genitals, "
        "breasts, buttocks and anus (not faces, feet, bellies or armpits, nor covered parts).",
    )
    model: Path | None = Field(
        None,
        description="An ONNX detector of NudeNet's shape to run instead of the one in the nudenet wheel "
        "(320x320 input, one row per class after four box values).",
    )
    page: Literal["blur", "hide", "show"] = Field(
        "blur",
        description="What the web page does with flagged images by default: 'blur' them until clicked, "
        "'hide' them (as `search --safe`), or 'show' them; a visitor may switch.",
    )


class ModelSettings(BaseModel):
    """Neural models (ONNX Runtime) for the ``embedding`` and ``clip`` signals."""

    folder: Path = Field(
        default_factory=_default_model_folder,
        description="Where installed models live, one folder each (default: ~/.cache/lookalike/models).",
    )
    embedding: str | None = Field(
        None, description="Installed model the 'embedding' signal runs (see `lookalike models list`)."
    )
    clip: str | None = Field(
        None, description="Installed CLIP-style model (image and text) the 'clip' signal runs."
    )
    providers: list[str] = Field(
        default_factory=lambda: ["auto"],
        description="ONNX Runtime execution providers in order of preference; 'auto': CUDA where "
        "present, then CPU.",
    )
    threads: int = Field(0, ge=0, description="Threads ONNX Runtime uses per model; 0: its own default.")
    batch_size: int = Field(16, ge=1, description="Images embedded per model call at ingest.")
    hub_url: str = Field(
        "https://huggingface.co",
        description="Model hub that `lookalike models pull` downloads from.",
    )
    whiten: bool = Field(
        False,
        description="PCA-whiten 'embedding' vectors, fitted on the collection (`lookalike models whiten`).",
    )
    whiten_dim: int = Field(0, ge=0, description="Dimensions kept by the whitening; 0: all of them.")
    expansion: int = Field(
        0,
        ge=0,
        description="Query expansion (alpha-QE) for 'embedding' and 'clip' image queries: neighbours "
        "averaged into the query and searched again; 0: off.",
    )
    expansion_alpha: float = Field(
        3.0, ge=0, description="Weight exponent of alpha-QE: a neighbour counts similarity**alpha."
    )
    tags: int = Field(
        5, ge=0, description="Zero-shot tags per image from the CLIP model and the vocabulary; 0: none."
    )
    tag_vocabulary: list[str] = Field(
        default_factory=list,
        description="Words for zero-shot tags, added to the built-in list (JSON list).",
    )
    tag_vocabulary_only: bool = Field(
        False, description="Use only models.tag_vocabulary, without the built-in words."
    )
