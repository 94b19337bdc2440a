"""Zip members (and ``.cbz``), through :mod:`zipfile`."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterator
from functools import partial
from typing import BinaryIO

from lookalike.errors import Reason
from lookalike.sources.archives.guard import STREAM_ERRORS, Entry, Guard, Kind, Problem, read_capped
from lookalike.sources.archives.members import Member, MemberFailure

__all__ = ["iter_zip"]


def iter_zip(fileobj: BinaryIO, guard: Guard) -> Iterator[Member | MemberFailure]:
    """The members of the zip ``fileobj``, each through ``guard``."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, *STREAM_ERRORS) as exc:
        raise guard.corrupt(exc) from exc
    with archive:
        for info in archive.infolist():
            entry = Entry(info.filename, _zip_kind(info), info.file_size, info.compress_size)
            if (result := guard.emit(entry, partial(_read_zip, archive, info))) is not None:
                yield result


def _zip_kind(info: zipfile.ZipInfo) -> Kind:
    mode = info.external_attr >> 16
    if info.is_dir() or stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "file" if stat.S_IFMT(mode) in (0, stat.S_IFREG) else "other"


def _read_zip(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> tuple[bytes, int]:
    if info.flag_bits & 0x1:
        raise Problem(Reason.UNREADABLE, "member is encrypted; encrypted zips are not supported")
    try:
        with archive.open(info) as stream:
            return read_capped(stream, cap), info.compress_size
    except NotImplementedError as exc:
        raise Problem(Reason.UNSUPPORTED_FORMAT, f"cannot unpack member: {exc}") from exc
    except (zipfile.BadZipFile, *STREAM_ERRORS) as exc:
        raise Problem(Reason.CORRUPT, f"cannot unpack member: {exc}") from exc
