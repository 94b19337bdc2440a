"""Which members of a group of duplicates are derivatives of another: a downscale or a crop of it.

Used by the ``original`` keep rule of :mod:`lookalike.usecases.dupes`.  The members of a group
are already the same picture (the phash says so), so the sizes tell most of it:

- a **downscale**: fewer pixels than another member, in both directions, at the same aspect
  ratio (within ``ASPECT``), and not a crop of it;
- a **crop**: it fits inside another member, and its pixels are found there: the grey view of the other member, at most ``VIEW`` pixels a side, holds a window
  that differs from this one's by at most ``NOISE`` grey levels on average, at the scale of a
  plain crop (one pixel for one) or of a crop after a downscale to fit (a square thumbnail
  of a wide photo).  A picture in a uniform border is not a crop of the framed one: it is
  the framed one that was made from it.

The pixels come from the thumbnail kept at ingest, else from the image's own bytes; a
member whose pixels cannot be read is no crop of anything.
"""

from __future__ import annotations

import contextlib
import io
from typing import Literal

import numpy as np
from PIL import Image

from lookalike.app import App
from lookalike.errors import LookalikeError
from lookalike.records import ImageInfo
from lookalike.signals.phash import uniform_border

__all__ = ["Derivation", "aimed", "derivatives"]

ASPECT = 0.02  # aspect ratios this close (relatively) are the same shape
VIEW = 64  # the long side of the grey view of the larger member a crop is looked for in
NOISE = 12.0  # mean grey-level difference of a crop to where it was cut from (re-encoding)
FLAT = 3.0  # a crop with less grey-level spread than this could come from any flat place
SMALLEST = 6  # a window narrower than this many view pixels tells nothing

Derivation = tuple[Literal["downscale", "crop"], int]


def derivatives(app: App, images: dict[int, ImageInfo], group: list[int]) -> dict[int, Derivation]:
    """The members of ``group`` that are a downscale or a crop of another member: id -> (how, of
    which member).  Of several originals, the largest is named."""
    found: dict[int, Derivation] = {}
    greys: dict[int, np.ndarray | None] = {}

    def grey(image_id: int) -> np.ndarray | None:
        if image_id not in greys:
            greys[image_id] = _grey(app, images[image_id])
        return greys[image_id]

    by_size = sorted(group, key=lambda i: -_pixels(images[i]))
    for small in by_size:
        b = images[small]
        for large in by_size:
            a = images[large]
            if large == small or not _fits(b, a):
                continue
            big, little = grey(large), grey(small)
            cut = big is not None and little is not None and _crop_of(little, b, big, a)
            if cut or _same_shape(b, a):  # of the same shape and not cut out of it: scaled down
                found[small] = ("crop" if cut else "downscale", large)
                break
    return found


def aimed(
    found: dict[int, Derivation], ranked: list[int], images: dict[int, ImageInfo]
) -> dict[int, Derivation]:
    """``found`` with each downscale named as one of the best ranked member of the size it was
    found of (a downscale of one of two same-size copies is a downscale of either: the one kept)."""
    aimed = {}
    for image_id, (how, of) in found.items():
        size = (images[of].width, images[of].height)
        if how == "downscale":
            of = next(
                (i for i in ranked if i not in found and (images[i].width, images[i].height) == size), of
            )
        aimed[image_id] = (how, of)
    return aimed


def _pixels(image: ImageInfo) -> int:
    return (image.width or 0) * (image.height or 0)


def _fits(b: ImageInfo, a: ImageInfo) -> bool:
    """Whether ``b`` is smaller than ``a``: no side longer, fewer pixels."""
    if not (b.width and b.height and a.width and a.height):
        return False
    return b.width <= a.width and b.height <= a.height and _pixels(b) < _pixels(a)


def _same_shape(b: ImageInfo, a: ImageInfo) -> bool:
    ratio_a, ratio_b = (a.width or 1) / (a.height or 1), (b.width or 1) / (b.height or 1)
    return abs(ratio_b - ratio_a) <= ASPECT * ratio_a


def _grey(app: App, image: ImageInfo) -> np.ndarray | None:
    """The image's grey pixels, from its thumbnail or else its own bytes; None if unreadable."""
    from lookalike.usecases.originals import original

    data = app.catalog.thumbnails.get(image.sha256)
    if data is None:
        with contextlib.suppress(LookalikeError, OSError):
            data = original(app, image.id)[0]
    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.draft("L", (VIEW * 4, VIEW * 4))
            return np.asarray(opened.convert("L"), dtype=np.float32)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _resized(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    image = Image.fromarray(pixels.astype(np.uint8), "L").resize((width, height), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32)


def _crop_of(little: np.ndarray, b: ImageInfo, big: np.ndarray, a: ImageInfo) -> bool:
    """Whether ``b``'s pixels (``little``) are a part of ``a``'s (``big``), at the scale of a plain
    crop or of a crop after a downscale that made one side of ``a`` fit ``b``."""
    aw, ah, bw, bh = a.width or 1, a.height or 1, b.width or 1, b.height or 1
    view = VIEW / max(aw, ah)  # view pixels per pixel of a
    vw, vh = max(1, round(aw * view)), max(1, round(ah * view))
    base = _resized(big, vw, vh)
    inside = uniform_border(_resized(big, 128, 128))
    for scale in sorted({1.0, bw / aw, bh / ah}, reverse=True):  # pixels of b per pixel of a
        ww, wh = round(bw / scale * view), round(bh / scale * view)  # b's window in the view
        if ww < SMALLEST or wh < SMALLEST or ww > vw or wh > vh or (ww == vw and wh == vh):
            continue
        window = _resized(little, ww, wh)
        if window.std() < FLAT:
            continue
        cells = np.lib.stride_tricks.sliding_window_view(base, (wh, ww))
        gap = np.abs(cells - window).mean(axis=(2, 3))
        y, x = np.unravel_index(int(np.argmin(gap)), gap.shape)
        if gap[y, x] > NOISE:
            continue
        box = (x / vw, y / vh, (x + ww) / vw, (y + wh) / vh)
        # b the picture inside a's uniform border: a is b framed, not b cut from a
        return inside is None or bool(max(abs(p - q) for p, q in zip(box, inside, strict=True)) >= 0.05)
    return False
