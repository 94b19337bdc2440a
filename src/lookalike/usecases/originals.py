"""An indexed image's own bytes: the kept original, or the file or archive member it came from.

A video or animation frame is made again from its file (seek, decode, the same PNG), so its
bytes need not be kept; a video is served from its file on disk, which players read in ranges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from lookalike.app import App
from lookalike.errors import LookalikeError, NotFoundError
from lookalike.plugins import ListedSource
from lookalike.records import VIDEO_FORMATS, Occurrence
from lookalike.sources import animation, video
from lookalike.sources.files import Blob, FileEntry, Rejected, blobs, fs_path

__all__ = ["original", "video_file"]


def original(app: App, image_id: int) -> tuple[bytes, str]:
    """The image's own bytes and where they were seen: the kept original (``ingest.originals``,
    by default for images fetched from URLs), else the first place that still has them.

    Only local files, archive members and objects of a listing source (a bucket,
    fetched again) that were indexed are read; the bytes must still hash to the image's content.
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
    """The bytes at a place: its file, archive member or bucket object, or a frame made again
    from its video."""
    wanted = place.video_uri or place.uri
    found = None
    for item in _items(app, place):
        if isinstance(item, Blob) and item.where.uri == wanted:
            found = item.data
            break
    if found is None or place.at is None:
        return found
    size = app.settings.decode.work_size
    if video.looks_like_video("", found[:64]):
        return video.frame_at(found, place.at, size)
    return animation.frame_at(found, place.at, size)


def _items(app: App, place: Occurrence) -> Iterable[Blob | Rejected]:
    """The images of the file or object ``place`` was seen in, read again; none if it is gone."""
    if place.file is None:
        return ()
    if "://" in place.file:
        return _listed(app, place.file)
    if not Path(fs_path(place.file)).is_file():
        return ()
    st = Path(fs_path(place.file)).stat()
    return blobs(FileEntry(place.file, st.st_size, st.st_mtime), app.settings.archive, app.settings.video)


def _listed(app: App, url: str) -> Iterator[Blob | Rejected]:
    """The images of one object, from the listing source that accepts its URL."""
    for part in app.plugins.sources.parts.values():
        source = part.value
        if isinstance(source, ListedSource) and source.accepts(url):
            try:
                entries = source.listing(url, app.settings).entries
                for _, found in source.read([e for e in entries if e.path == url], app.settings):
                    yield from found
            except LookalikeError:
                return  # the object or its bucket is gone, or unreadable: not at this place
            return
