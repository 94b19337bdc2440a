"""Thumbnails made at ingest, stored by content hash in the data folder.

Photos become JPEG (a tenth of a millisecond to encode, against about five for
WebP at a similar size).  Pixel art is enlarged by a whole factor with
nearest-neighbour and kept as PNG, so a 16x16 sprite shows as crisp blocks
rather than a blur.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from .decode import DecodedImage

__all__ = ["ThumbStore", "render"]


def render(image: DecodedImage, size: int) -> bytes:
    """A JPEG (or, for enlarged pixel art, PNG) thumbnail whose long side is at most ``size``."""
    picture = image.image
    w, h = picture.size
    buffer = io.BytesIO()
    if max(w, h) * 2 <= size:
        factor = size // max(w, h)
        picture = picture.resize((w * factor, h * factor), Image.Resampling.NEAREST)
        picture.save(buffer, "PNG", compress_level=1)
    else:
        picture = picture.copy()
        picture.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
        picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class ThumbStore:
    """Content-addressed thumbnail files: ``thumbs/ab/abcdef...`` (JPEG or PNG)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / sha256

    def put(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def get(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except OSError:
            return None
