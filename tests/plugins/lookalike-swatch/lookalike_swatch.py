"""An example lookalike plugin, outside the core: one signal and one source.

- the ``colour-words`` signal, a *text* signal: it names the colours an image is mostly
  made of ("red", "navy"...), each with the share of the image as its confidence, so
  ``lookalike search --text red`` finds red images;
- the ``swatch`` source: ``lookalike index swatch:red,teal`` indexes one plain image per colour.

It registers through the ``lookalike.plugins`` entry point, as lookalike's own parts do.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image

from lookalike.errors import Reason
from lookalike.records import Failure, Provenance, TextField
from lookalike.signals import BaseTextSignal, Kind, Metric, SignalSpec
from lookalike.sources.files import Blob, Rejected

COLOURS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "red": (220, 30, 30),
    "green": (40, 170, 60),
    "blue": (40, 70, 220),
    "yellow": (240, 220, 40),
    "orange": (245, 140, 30),
    "purple": (140, 50, 170),
    "teal": (20, 150, 150),
}


class ColourWords(BaseTextSignal):
    """The names of the colours that cover at least a tenth of an image."""

    spec = SignalSpec("colour-words", 1, Kind.TEXT, Metric.WORDS, 0, "uint8")
    input_size = 32
    description = "names of an image's main colours (an example plugin)"

    def read(self, image: Any) -> list[TextField]:
        pixels = np.asarray(image.image.convert("RGB").resize((32, 32)), dtype=np.float32).reshape(-1, 3)
        palette = np.array(list(COLOURS.values()), dtype=np.float32)
        nearest = np.argmin(((pixels[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2), axis=1)
        shares = np.bincount(nearest, minlength=len(COLOURS)) / len(nearest)
        names = list(COLOURS)
        return [
            TextField("colour", names[i], round(float(shares[i]), 3))
            for i in np.argsort(-shares)
            if shares[i] >= 0.1
        ]


class SwatchSource:
    """``swatch:NAME[,NAME...]``: one plain 64x64 PNG per named colour, seen at ``swatch:#RRGGBB``."""

    def accepts(self, target: str) -> bool:
        return target.startswith("swatch:")

    def items(self, target: str, settings: Any) -> Iterator[Blob | Rejected]:
        for name in target.removeprefix("swatch:").split(","):
            if name not in COLOURS:
                where = Provenance(f"swatch:{name}")
                yield Rejected(where, Failure(Reason.NOT_AN_IMAGE, f"no colour named {name!r}"))
                continue
            where = Provenance("swatch:#{:02x}{:02x}{:02x}".format(*COLOURS[name]))  # the hex, not the word
            buffer = io.BytesIO()
            Image.new("RGB", (64, 64), COLOURS[name]).save(buffer, "PNG")
            yield Blob(where, buffer.getvalue())


def register(plugins: Any) -> None:
    plugins.signals.register(
        "colour-words", lambda settings: ColourWords(), description=ColourWords.description
    )
    plugins.sources.register("swatch", SwatchSource(), description="plain colour swatches: swatch:red,teal")
