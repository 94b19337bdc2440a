"""Tar members, plain or compressed (gzip, bzip2, xz; and ``.cbt``), through :mod:`tarfile`."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from functools import partial
from typing import BinaryIO

from lookalike.errors import Reason
from lookalike.sources.archives.guard import STREAM_ERRORS, Entry, Guard, Kind, Problem, read_capped
from lookalike.sources.archives.members import Member, MemberFailure

__all__ = ["iter_tar"]

#: Compressed bytes a tar stream may have read ahead of a member; added to the
#: measured packed size so that buffering never makes a member look like a bomb.
_TAR_SLACK = 64 * 1024


def iter_tar(fileobj: BinaryIO, guard: Guard) -> Iterator[Member | MemberFailure]:
    """The members of the tar ``fileobj``, each through ``guard``."""
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as archive:
            compressed = archive.fileobj is not fileobj
            for info in archive:
                read = partial(_read_tar, archive, info, fileobj)
                skip_cost = info.size if compressed else 0
                if (result := guard.emit(_tar_entry(info), read, skip_cost)) is not None:
                    yield result
    except (tarfile.TarError, *STREAM_ERRORS) as exc:
        raise guard.corrupt(exc) from exc


def _tar_entry(info: tarfile.TarInfo) -> Entry:
    kind: Kind = "other"
    if info.isreg():
        kind = "file"
    elif info.isdir():
        kind = "dir"
    elif info.issym() or info.islnk():
        kind = "link"
    return Entry(info.name, kind, info.size, None)


def _read_tar(archive: tarfile.TarFile, info: tarfile.TarInfo, raw: BinaryIO, cap: int) -> tuple[bytes, int]:
    """The member's bytes and the compressed bytes read meanwhile (its packed size)."""
    stream = archive.extractfile(info)
    if stream is None:
        raise Problem(Reason.CORRUPT, "tar member has no data")
    start = raw.tell()
    with stream:
        data = read_capped(stream, cap)
    return data, raw.tell() - start + _TAR_SLACK
