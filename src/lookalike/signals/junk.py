"""The junk flag: images that are no picture worth finding, told by plain pixel statistics.

No model: the decoded image's size and a 64x64 view's colours decide.  The reason is the
first of these that applies:

- ``spacer``: a side of at most 2 pixels (tracking pixels, spacer GIFs, 1-pixel rules);
- ``blank``: near-uniform: almost every pixel within a few levels of the median colour
  (a fully transparent image is composited onto white by the decoder, so it is blank too);
- ``tiny``: the long side is under ``junk.min_side`` (32), unless the image is pixel art
  (``junk.pixel_art``: ``auto`` takes a tiny image of at most 32 distinct colours for a sprite,
  since a photo or icon shrunk that small keeps many more; ``yes`` for every image);
- ``placeholder``: button-sized (at most 120x60 and at least twice as wide as high) and nearly all
  in two colours (a web button, a "no image" box); not with ``junk.pixel_art = yes``.

Thresholds were set on real photos, game art and drawn junk (docs/benchmarks.md, "Junk").
"""

from __future__ import annotations

import zlib

import numpy as np

from lookalike.decode import DecodedImage
from lookalike.settings import JunkSettings
from lookalike.signals.base import BaseFlagSignal, Kind, Metric, SignalSpec

__all__ = ["REASONS", "Junk"]

#: Every reason a junk image is flagged with, in the order they are tried.
REASONS = ("spacer", "blank", "tiny", "placeholder")
VERSION = 1  # bump when what is flagged changes
SPACER_SIDE = 2
VIEW = 64  # side of the view whose colours are counted
NEAR = 12  # levels per channel within which a pixel counts as the colour it is near
BLANK_SHARE = 0.98  # of the view near its median colour (the 570 Flickr photos reach 0.84 at most)
PIXEL_ART_COLOURS = 32  # the Kenney tiles have at most 12; a photo shrunk to 24x24 at least 86
BUTTON = (120, 60)  # the largest button, wide by high
BUTTON_ASPECT = 2.0
BUTTON_SHARE = 0.8  # of the view near its two main colours


class Junk(BaseFlagSignal):
    """Flags spacers, blank, tiny and placeholder images with the reason; pure pixel statistics."""

    input_size = VIEW
    description = "junk images (spacer, blank, tiny, placeholder), left out of results unless asked"

    def __init__(self, settings: JunkSettings | None = None) -> None:
        self.settings = settings or JunkSettings()
        self.spec = SignalSpec("junk", _version(self.settings), Kind.FLAG, Metric.NONE, 0, "uint8")

    def judge(self, image: DecodedImage) -> str | None:
        """The reason ``image`` is junk, or None."""
        width, height = image.width, image.height
        if min(width, height) <= SPACER_SIDE:
            return "spacer"
        view = image.rgb(VIEW).reshape(-1, 3).astype(np.int16)
        background = _near(view, np.median(view, axis=0))
        if background.mean() >= BLANK_SHARE:
            return "blank"
        if max(width, height) < self.settings.min_side and not self._pixel_art(image):
            return "tiny"
        if self.settings.pixel_art != "yes" and _button(width, height) and _two_colours(view, background):
            return "placeholder"
        return None

    def _pixel_art(self, image: DecodedImage) -> bool:
        if self.settings.pixel_art != "auto":
            return self.settings.pixel_art == "yes"
        return colours(np.asarray(image.image)) <= PIXEL_ART_COLOURS


def _version(settings: JunkSettings) -> int:
    """1 with the default settings; other settings flag other images, so they make another
    version (a hash of them), and ``index --signals junk`` judges every image again."""
    if settings == JunkSettings():
        return VERSION
    return zlib.crc32(f"{VERSION}:{settings.min_side}:{settings.pixel_art}".encode()) & 0x7FFFFFFF


def colours(pixels: np.ndarray) -> int:
    """Distinct colours of an (h, w, 3) uint8 image."""
    flat = pixels.reshape(-1, 3).astype(np.int32)
    return len(np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]))


def _near(view: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Which pixels of ``view`` are within :data:`NEAR` levels of ``colour`` on every channel."""
    return np.asarray(np.abs(view - colour.astype(np.int16)).max(axis=1) <= NEAR)


def _button(width: int, height: int) -> bool:
    return width <= BUTTON[0] and height <= BUTTON[1] and width >= BUTTON_ASPECT * height


def _two_colours(view: np.ndarray, background: np.ndarray) -> bool:
    """Nearly all of ``view`` is its background colour and one other (text or a border)."""
    rest = view[~background]
    if not len(rest):
        return True
    other = _near(rest, np.median(rest, axis=0))
    return float(background.sum() + other.sum()) / len(view) >= BUTTON_SHARE
