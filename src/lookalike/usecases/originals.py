"""An indexed image's own bytes: the kept original, or the file or archive member it came from.

A video or animation frame is made again from its file (seek, decode, the same PNG), so its
bytes need not be kept; a video is served from its file on disk, which players read in ranges.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lookalike.app import App
from lookalike.errors import NotFoundError
from lookalike.records import VIDEO_FORMATS, Occurrence
from lookalike.sources import animation, video
from lookalike.sources.files import Blob, FileEntry, blobs, fs_path

__all__ = ["original", "video_file"]


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
        data = _bytes_at(app, place)
        if data is not None and hashlib.sha256(data).hexdigest() == image.sha256:
            return data, place.uri
    raise NotFoundError(f"image {image_id} is no longer at any place it was indexed from")


def video_file(app: App, image_id: int) -> tuple[Path, str] | None:
    """A video's file on disk and its place, when the image is a video whose file is unchanged since
    it was indexed (same size and time: a video is not hashed again for every range a player asks)."""
    image = app.catalog.images.get(image_id)
    if image is None or image.format not in VIDEO_FORMATS:
        return None
    for place in app.catalog.images.occurrences([image_id])[image_id]:
        if place.file is None or place.member is not None or place.file != place.uri:
            continue
        path = Path(fs_path(place.file))
        if path.is_file():
            st = path.stat()
            if app.catalog.scans.unchanged(place.file, st.st_size, st.st_mtime):
                return path, place.uri
    return None


def _bytes_at(app: App, place: Occurrence) -> bytes | None:
    """The bytes at a place: its file or archive member, or a frame made again from its video."""
    if place.file is None or not Path(fs_path(place.file)).is_file():
        return None
    wanted = place.video_uri or place.uri
    st = Path(fs_path(place.file)).stat()
    found = None
    for item in blobs(
        FileEntry(place.file, st.st_size, st.st_mtime), app.settings.archive, app.settings.video
    ):
        if isinstance(item, Blob) and item.where.uri == wanted:
            found = item.data
            break
    if found is None or place.at is None:
        return found
    size = app.settings.decode.work_size
    if video.looks_like_video("", found[:64]):
        return video.frame_at(found, place.at, size)
    return animation.frame_at(found, place.at, size)
