"""An indexed image's own bytes: the kept original, or the file or archive member it came from."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lookalike.app import App
from lookalike.errors import NotFoundError
from lookalike.sources.files import Blob, FileEntry, blobs, fs_path

__all__ = ["original"]


def original(app: App, image_id: int) -> tuple[bytes, str]:
    """The image's own bytes and where they were seen: the kept original (``ingest.originals``,
    by default for images fetched from URLs), else the first place that still has them.

    Only local files and archive members that were indexed are read; the bytes
    must still hash to the image's content.
    """
    image = app.catalog.images.get(image_id)
    if image is None:
        raise NotFoundError(f"no image with id {image_id}")
    places = app.catalog.images.occurrences([image_id])[image_id]
    kept = app.originals.get(image.sha256)
    if kept is not None and places:
        return kept, places[0].uri
    for place in places:
        if place.file is None or not Path(fs_path(place.file)).is_file():
            continue
        st = Path(fs_path(place.file)).stat()
        for item in blobs(FileEntry(place.file, st.st_size, st.st_mtime), app.settings.archive):
            if isinstance(item, Blob) and item.where.uri == place.uri:
                if hashlib.sha256(item.data).hexdigest() == image.sha256:
                    return item.data, place.uri
                break
    raise NotFoundError(f"image {image_id} is no longer at any place it was indexed from")
