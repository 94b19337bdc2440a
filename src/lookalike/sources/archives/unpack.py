"""Open an archive, tell its format and hand its members out through one :class:`Guard`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from lookalike.errors import ArchiveError, Reason
from lookalike.settings import ArchiveSettings
from lookalike.sources.archives.guard import Guard
from lookalike.sources.archives.kinds import HEAD, archive_kind
from lookalike.sources.archives.members import Member, MemberFailure
from lookalike.sources.archives.rar import iter_rar
from lookalike.sources.archives.sevenzip import iter_7z
from lookalike.sources.archives.tarfmt import iter_tar
from lookalike.sources.archives.zipfmt import iter_zip

__all__ = ["iter_members"]


def iter_members(
    source: Path | bytes, limits: ArchiveSettings, name: str = ""
) -> Iterator[Member | MemberFailure]:
    """Members (and refused members) of the archive ``source``, in archive order.

    ``source`` is a path, or the bytes of an archive (a nested one: ``name`` is then its
    member name, used to tell compressed tar streams).  Raises :class:`ArchiveError`
    when the archive is unreadable, corrupt or breaks an archive-wide limit; members
    already yielded stay valid.
    """
    uri = str(source) if isinstance(source, Path) else (name or None)
    guard = Guard(limits, uri)
    with _opened(source, uri) as fileobj:
        kind = archive_kind(fileobj.read(HEAD), name or getattr(source, "name", ""))
        fileobj.seek(0)
        if kind == "zip":
            yield from iter_zip(fileobj, guard)
        elif kind == "tar":
            yield from iter_tar(fileobj, guard)
        elif kind == "7z":
            yield from iter_7z(fileobj, guard)
        elif kind == "rar":
            yield from iter_rar(source, guard)
        else:
            raise guard.error(Reason.ARCHIVE_CORRUPT, "not a zip, tar, 7z or rar archive (unknown signature)")


@contextmanager
def _opened(source: Path | bytes, uri: str | None) -> Iterator[BinaryIO]:
    if not isinstance(source, Path):
        yield io.BytesIO(source)
        return
    try:
        handle = source.open("rb")
    except OSError as exc:
        detail = f"cannot open archive: {exc.strerror or exc}"
        raise ArchiveError(Reason.UNREADABLE, detail, uri=uri) from exc
    with handle:
        yield handle
