"""Thumbnails made at ingest from the decoded image, once, beside the signals.

Photos become JPEG (a tenth of a millisecond to encode, against about five for
WebP at a similar size).  Pixel art stays at its own size as PNG: a 16x16 sprite
is a hundred bytes, and a page shows it enlarged with ``image-rendering: pixelated``,
crisp rather than blurred.  The stores that keep them are in :mod:`lookalike.catalog.thumbnails`.
"""

from __future__ import annotations

import io

from PIL import Image

from lookalike.decode import DecodedImage

__all__ = ["render"]


def render(image: DecodedImage, size: int) -> bytes:
    """A JPEG thumbnail whose long side is about ``size`` (at most 1.25 times); small images as PNG."""
    picture = image.image
    buffer = io.BytesIO()
    if max(picture.size) * 2 <= size:
        picture.save(buffer, "PNG")
    else:
        if max(picture.size) > size * 1.25:  # a decode reduced near the size is kept as it is
            picture = picture.copy()
            picture.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
