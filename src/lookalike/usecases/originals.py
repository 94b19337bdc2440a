"""An indexed image's own bytes: the kept original, or the file or archive member it came from."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from lookalike.app import App
from lookalike.errors import LookalikeError, NotFoundError
from lookalike.plugins import ListedSource
from lookalike.records import Occurrence
from lookalike.sources.files import Blob, FileEntry, Rejected, blobs, fs_path

__all__ = ["original"]


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
        for item in _items(app, place):
            if isinstance(item, Blob) and item.where.uri == place.uri:
                if hashlib.sha256(item.data).hexdigest() == image.sha256:
                    return item.data, place.uri
                break
    raise NotFoundError(f"image {image_id} is no longer at any place it was indexed from")


def _items(app: App, place: Occurrence) -> Iterable[Blob | Rejected]:
    """The images of the file or object ``place`` was seen in, read again; none if it is gone."""
    if place.file is None:
        return ()
    if "://" in place.file:
        return _listed(app, place.file)
    if not Path(fs_path(place.file)).is_file():
        return ()
    st = Path(fs_path(place.file)).stat()
    return blobs(FileEntry(place.file, st.st_size, st.st_mtime), app.settings.archive)


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
