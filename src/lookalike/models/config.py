"""What a model is: the small JSON config beside its ONNX files.

A model is a folder::

    clip-vit-b32/
        lookalike-model.json     this config
        image.onnx               image tower: pixels -> embedding
        text.onnx                text tower (CLIP-style models only): token ids -> embedding
        tokenizer.json           a Hugging Face `tokenizers` file (text models only)

The config says how to feed the model (input size, resize and crop, mean and std,
input and output names, pooling) and how to read its distances (calibration).
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from lookalike.errors import ModelError

__all__ = ["CONFIG_FILE", "ImageTower", "ModelConfig", "ModelKind", "TextTower", "read_config"]

CONFIG_FILE = "lookalike-model.json"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ModelKind(StrEnum):
    """What a model can embed."""

    IMAGE = "image"  # images only: the 'embedding' signal
    CLIP = "clip"  # images and text in one space: the 'clip' signal
    CLASSIFIER = "classifier"  # class logits only (no embedding): the 'tags' signal


class Pooling(StrEnum):
    """How a model's output becomes one vector per input."""

    NONE = "none"  # the output is (batch, dim) already
    CLS = "cls"  # (batch, tokens, dim): the first token
    MEAN = "mean"  # (batch, tokens, dim) or (batch, dim, h, w): the mean over tokens or positions


class ImageTower(BaseModel):
    """How pixels go into the image model."""

    file: str = "image.onnx"
    input: str | None = Field(None, description="input name; None: the model's first input")
    output: str | None = Field(None, description="embedding output name; None: the model's first output")
    logits: str | None = Field(None, description="class-logits output name, read with the labels (a tagger)")
    labels: str | None = Field(
        None, description="file of class names, one a line (or a Hugging Face config.json with id2label)"
    )
    size: int = Field(224, ge=2, le=2048, description="side of the square the model reads")
    resize: Literal["shortest", "squash"] = Field(
        "shortest", description="'shortest': scale the short side to size, then crop; 'squash': stretch"
    )
    crop: Literal["center", "none"] = "center"
    crop_fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description="share of the short side the centre crop keeps (0.875: the usual eval crop)",
    )
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    layout: Literal["nchw", "nhwc"] = "nchw"
    pooling: Pooling = Pooling.NONE


class TextTower(BaseModel):
    """How words go into the text model."""

    file: str = "text.onnx"
    tokenizer: str = "tokenizer.json"
    input: str | None = Field(None, description="token-id input name; None: the model's first input")
    mask_input: str | None = Field(
        "attention_mask", description="attention-mask input name, fed only when the model has it"
    )
    output: str | None = None
    context_length: int = Field(77, ge=1, le=4096)
    pad_id: int = 0
    pooling: Pooling = Pooling.NONE


class ModelConfig(BaseModel):
    """A model's config file, validated."""

    name: str
    kind: ModelKind
    dim: int = Field(gt=0, description="embedding size")
    image: ImageTower = Field(default_factory=ImageTower)
    text: TextTower | None = None
    # logistic calibration of cosine distances (1 - cos): (midpoint, spread), as in BaseSignal
    image_calibration: tuple[float, float] = (0.25, 0.05)
    text_calibration: tuple[float, float] = (0.76, 0.02)
    source: str | None = Field(None, description="where the model came from (hub repo, path)")
    files: dict[str, str] = Field(default_factory=dict, description="sha256 of each file, set on install")

    @property
    def classifies(self) -> bool:
        """Whether the model gives class logits (with labels): it can tag images."""
        return self.image.logits is not None

    @property
    def embeds(self) -> bool:
        """Whether the model gives an embedding (every kind but 'classifier')."""
        return self.kind is not ModelKind.CLASSIFIER

    def digest(self) -> str:
        """Identity of the model: its files' hashes and how it is fed (not its name or source).

        Fields added later are left out while they hold their defaults, so a model
        installed before them keeps its identity (and its features their version).
        """
        body = self.model_dump(mode="json", exclude={"name", "source"})
        for later in _LATER_IMAGE_FIELDS:
            if body["image"].get(later) == ImageTower.model_fields[later].default:
                body["image"].pop(later, None)
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def version(self) -> int:
        """A signal version for the features this model makes (a new model means a backfill)."""
        return int(self.digest()[:7], 16)


#: ImageTower fields that came after the first models were installed (see ModelConfig.digest)
_LATER_IMAGE_FIELDS = ("logits", "labels", "crop_fraction")


def read_config(folder: Path) -> ModelConfig:
    """The config of the model in ``folder``, or :class:`ModelError` saying what is wrong."""
    path = folder / CONFIG_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{folder} has no {CONFIG_FILE}: it is not a lookalike model folder") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None
    try:
        config = ModelConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ModelError(f"{path} is not a valid model config: {problems}") from None
    if config.kind is ModelKind.CLIP and config.text is None:
        raise ModelError(f"{path}: a 'clip' model needs a 'text' section (text tower and tokenizer)")
    if (config.image.logits is None) != (config.image.labels is None):
        raise ModelError(
            f"{path}: 'image.logits' and 'image.labels' go together (class logits and their names)"
        )
    if config.kind is ModelKind.CLASSIFIER and config.image.logits is None:
        raise ModelError(f"{path}: a 'classifier' model needs 'image.logits' and 'image.labels'")
    return config
