"""Object storage: images and archives in buckets (``s3://``, ``gs://``, ``az://``), through fsspec.

A bucket, or a prefix in it, is listed the way a folder is walked: every page of the
listing, in key order.  Each object becomes a :class:`~lookalike.sources.files.FileEntry`
whose path is its URL (``s3://bucket/key``) and whose size and ETag tell a re-index
whether it changed, so an unchanged bucket downloads nothing.  Objects whose names are
neither images nor archives are counted but not downloaded.  Images are downloaded
``storage.concurrency`` at a time; an archive goes to a temporary file and is unpacked
from there with the usual limits.  fsspec and its backend (s3fs, gcsfs, adlfs) are
imported only when a bucket is read, and a missing one is named with what to install.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.errors import ConfigError, InputError, NotFoundError, Reason
from lookalike.records import Failure, Provenance
from lookalike.sources.files import (
    ARCHIVE_EXTENSIONS,
    IMAGE_EXTENSIONS,
    Blob,
    FileEntry,
    Listing,
    Rejected,
    archive_blobs,
)

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from lookalike.settings import Settings, StorageSettings

__all__ = ["SCHEMES", "ObjectSource", "filesystem", "split"]

#: URL schemes of object stores, with the fsspec backend package that reads them.
SCHEMES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}
_INSTALL = {"s3fs": "pip install 'lookalike[s3]'", "gcsfs": "pip install gcsfs", "adlfs": "pip install adlfs"}
_ETAG_KEYS = ("ETag", "etag", "md5Hash")


def split(target: str) -> tuple[str, str]:
    """``s3://bucket/prefix/`` as (``s3``, ``bucket/prefix``)."""
    scheme, _, path = target.partition("://")
    return scheme.lower(), path.strip("/")


def filesystem(scheme: str, settings: StorageSettings) -> AbstractFileSystem:
    """The fsspec file system of ``scheme``; s3 gets the endpoint, region, profile and anonymity
    of ``settings`` (credentials come from where botocore reads them)."""
    backend = SCHEMES[scheme]
    if find_spec("fsspec") is None or find_spec(backend) is None:
        raise ConfigError(f"{scheme}:// buckets need the {backend} package: {_INSTALL[backend]}")
    import fsspec

    options: dict[str, Any] = {}
    if backend == "s3fs":
        options["anon"] = settings.anonymous
        if settings.endpoint_url:
            options["endpoint_url"] = settings.endpoint_url
        if settings.profile:
            options["profile"] = settings.profile
        if settings.region:
            options["client_kwargs"] = {"region_name": settings.region}
    return fsspec.filesystem(scheme, **options)


class ObjectSource:
    """Images and archives in object storage: Amazon S3 and S3-compatible stores (MinIO, Ceph),
    Google Cloud Storage and Azure Blob Storage, where their fsspec backend is installed."""

    def accepts(self, target: str) -> bool:
        return split(target)[0] in SCHEMES and "://" in target

    def items(self, target: str, settings: Settings) -> Iterator[Blob | Rejected]:
        for _, found in self.read(self.listing(target, settings).entries, settings):
            yield from found

    def listing(self, target: str, settings: Settings) -> Listing:
        """Every object under ``target`` (a bucket, a prefix, or one object), listed page by page.

        Raises :class:`NotFoundError` for a bucket that is not there and :class:`InputError`
        when the store refuses the listing (credentials, permissions, a wrong endpoint).
        """
        scheme, path = split(target)
        fs = filesystem(scheme, settings.storage)
        try:
            if "/" in path and fs.isfile(path):
                return Listing([_entry(scheme, fs.info(path))], None)
            found: Mapping[str, Mapping[str, Any]] = fs.find(path, detail=True)
        except FileNotFoundError:
            raise NotFoundError(f"no such bucket: {target}") from None
        except Exception as exc:  # the backends raise their own errors (botocore, aiohttp, ...)
            raise InputError(Reason.UNREADABLE, _why(exc, "cannot list the objects"), target) from None
        objects = sorted(name for name, info in found.items() if info.get("type", "file") == "file")
        return Listing([_entry(scheme, found[name]) for name in objects], f"{scheme}://{path}")

    def read(
        self, entries: Iterable[FileEntry], settings: Settings
    ) -> Iterator[tuple[FileEntry, Iterable[Blob | Rejected]]]:
        """Each entry with the images in it; images are downloaded ``storage.concurrency`` at once.
        An object that cannot be read is rejected with why, and the rest go on."""
        size = settings.storage.concurrency
        iterator = iter(entries)
        while group := list(itertools.islice(iterator, size)):
            wanted = [e for e in group if _kind(e.path) == "image" and _too_large(e, settings) is None]
            fetched = _fetch(wanted, settings) if wanted else {}
            for entry in group:
                yield entry, self._found(entry, fetched, settings)

    def _found(
        self, entry: FileEntry, fetched: Mapping[str, bytes | Exception], settings: Settings
    ) -> Iterable[Blob | Rejected]:
        where = Provenance(uri=entry.path, file=entry.path, size=entry.size, mtime=entry.mtime)
        kind = _kind(entry.path)
        if kind is None:
            return []
        if (failure := _too_large(entry, settings)) is not None:
            return [Rejected(where, failure)]
        if kind == "archive":
            return _archive(entry, where, settings)
        data = fetched.get(entry.path)
        if isinstance(data, bytes):
            return [Blob(where, data)]
        return [Rejected(where, Failure(Reason.UNREADABLE, _why(data, "cannot download the object")))]


def _entry(scheme: str, info: Mapping[str, Any]) -> FileEntry:
    etag = next((str(info[k]).strip('"') for k in _ETAG_KEYS if info.get(k)), None)
    changed = next(
        (info[k] for k in ("LastModified", "last_modified", "updated", "mtime") if k in info), None
    )
    mtime = changed.timestamp() if isinstance(changed, datetime) else 0.0
    return FileEntry(f"{scheme}://{info['name']}", int(info.get("size") or 0), mtime, etag=etag)


def _kind(url: str) -> str | None:
    """``image`` or ``archive`` by the object's name; None: not downloaded."""
    suffix = posixpath.splitext(url)[1].lower()
    return "image" if suffix in IMAGE_EXTENSIONS else "archive" if suffix in ARCHIVE_EXTENSIONS else None


def _too_large(entry: FileEntry, settings: Settings) -> Failure | None:
    limit, key = settings.storage.max_object_bytes, "storage.max_object_bytes"
    if _kind(entry.path) == "image" and settings.decode.max_bytes < limit:
        limit, key = settings.decode.max_bytes, "decode.max_bytes"
    if entry.size <= limit:
        return None
    return Failure(Reason.TOO_LARGE, f"{entry.size} bytes is more than {key}={limit}; it was not downloaded")


def _fetch(entries: list[FileEntry], settings: Settings) -> dict[str, bytes | Exception]:
    """The bytes of ``entries`` (or why each could not be downloaded), fetched concurrently."""
    scheme = split(entries[0].path)[0]
    paths = {split(e.path)[1]: e.path for e in entries}
    try:
        fs = filesystem(scheme, settings.storage)
        got = fs.cat(list(paths), on_error="return", batch_size=settings.storage.concurrency)
    except Exception as exc:  # the whole group failed: each object records why
        return dict.fromkeys(paths.values(), exc)
    if not isinstance(got, dict):  # one path: fsspec answers with its bytes
        got = {next(iter(paths)): got}
    return {url: got.get(path, FileNotFoundError(path)) for path, url in paths.items()}


def _archive(entry: FileEntry, where: Provenance, settings: Settings) -> Iterator[Blob | Rejected]:
    """An archive object's images: downloaded into a temporary file, unpacked from there."""
    scheme, path = split(entry.path)
    handle, temporary = tempfile.mkstemp(prefix="lookalike-object-", suffix=posixpath.splitext(path)[1])
    os.close(handle)
    try:
        try:
            filesystem(scheme, settings.storage).get_file(path, temporary)
        except Exception as exc:
            yield Rejected(where, Failure(Reason.UNREADABLE, _why(exc, "cannot download the archive")))
            return
        yield from archive_blobs(Path(temporary), where, settings.archive)
    finally:
        os.unlink(temporary)


def _why(exc: BaseException | None, what: str) -> str:
    if exc is None:
        return what
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, PermissionError) or "credentials" in detail.lower():
        detail += " (check the credentials: AWS_ACCESS_KEY_ID / ~/.aws/credentials, or storage.anonymous)"
    return f"{what}: {detail}"
