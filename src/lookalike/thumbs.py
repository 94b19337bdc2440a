"""Thumbnails: small WebP files made at ingest, stored by content hash in the data folder.

Pixel art is enlarged by a whole factor with nearest-neighbour, so a 16x16 sprite
shows as crisp 8x8-pixel blocks rather than a blur.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from .decode import DecodedImage

__all__ = ["ThumbStore", "render"]


def render(image: DecodedImage, size: int) -> bytes:
    """A WebP thumbnail whose long side is at most ``size``."""
    picture = image.image
    w, h = picture.size
    if max(w, h) * 2 <= size:
        factor = size // max(w, h)
        picture = picture.resize((w * factor, h * factor), Image.Resampling.NEAREST)
    else:
        picture = picture.copy()
        picture.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, "WEBP", quality=80, method=3)
    return buffer.getvalue()


class ThumbStore:
    """Content-addressed thumbnail files: ``thumbs/ab/abcdef....webp``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / f"{sha256}.webp"

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
