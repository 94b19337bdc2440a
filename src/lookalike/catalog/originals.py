"""Originals: a content-addressed copy of image bytes in the data folder.

Images fetched from URLs have no file of their own to show later, so their bytes
are kept here, one file per content: ``originals/ab/cd/abcd...ef`` (the sha256).
What is kept is a setting (``ingest.originals``): only fetched images (the
default), every image, or none (thumbnails and features only).  Writing is
idempotent (the same content is one file) and atomic (a temporary file renamed),
so a crash leaves no half-written original.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["OriginalStore"]


class OriginalStore:
    """Image bytes by sha256, in a folder tree."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / sha256[2:4] / sha256

    def put(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as fh:
                fh.write(data)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def get(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(sha256).unlink()
