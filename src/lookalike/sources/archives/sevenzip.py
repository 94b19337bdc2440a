"""7z members (and ``.cb7``), through py7zr (an optional dependency)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, BinaryIO

from lookalike.errors import ArchiveError, Reason
from lookalike.settings import ArchiveSettings
from lookalike.sources.archives.feed import Feed
from lookalike.sources.archives.guard import Entry, Guard, Kind, Problem, setting, verdict
from lookalike.sources.archives.members import Member, MemberFailure

if TYPE_CHECKING:
    import py7zr

__all__ = ["iter_7z"]

_NO_PY7ZR = "7z archives need py7zr: pip install 'lookalike[archives]'"


def iter_7z(fileobj: BinaryIO, guard: Guard) -> Iterator[Member | MemberFailure]:
    """The members of the 7z ``fileobj``, each through ``guard``."""
    try:
        import py7zr
    except ImportError as exc:
        raise guard.error(Reason.EXTRACTOR_MISSING, _NO_PY7ZR) from exc
    archive = _open_7z(fileobj, guard)
    feed = Feed(guard.limits.max_member_bytes)
    try:
        yield from _members(archive, feed, guard)
    except ArchiveError:
        raise
    except py7zr.DecompressionBombError as exc:
        limit = setting("max_total_bytes", guard.limits.max_total_bytes)
        raise guard.error(Reason.ARCHIVE_BOMB, f"unpacking passes {limit}") from exc
    except Exception as exc:  # py7zr raises many kinds on broken input
        raise guard.corrupt(exc) from exc
    finally:
        feed.stop()
        archive.close()


def _members(archive: py7zr.SevenZipFile, feed: Feed, guard: Guard) -> Iterator[Member | MemberFailure]:
    files = list(archive.files)
    wanted = _7z_wanted(files, guard.limits)
    if wanted:
        feed.start(archive, wanted)
    for file in files:
        data = feed.take(file.uncompressed) if _7z_extracted(file, wanted) else None
        if (result := guard.emit(_7z_entry(file), partial(_7z_data, file, data))) is not None:
            yield result


def _open_7z(fileobj: BinaryIO, guard: Guard) -> py7zr.SevenZipFile:
    import py7zr

    try:
        # max_extract_size also bounds solid blocks, where members that are skipped
        # must still be unpacked to reach later ones (needs py7zr >= 1.1).
        archive = py7zr.SevenZipFile(fileobj, mode="r", max_extract_size=guard.limits.max_total_bytes)
    except py7zr.PasswordRequired as exc:
        raise guard.error(Reason.UNREADABLE, "7z archive is encrypted; not supported") from exc
    except Exception as exc:  # py7zr raises many kinds on broken input
        raise guard.corrupt(exc) from exc
    if archive.needs_password():
        archive.close()
        raise guard.error(Reason.UNREADABLE, "7z archive is encrypted; not supported")
    return archive


def _7z_entry(file: Any) -> Entry:
    kind: Kind = "file"
    if file.is_directory:
        kind = "dir"
    elif file.is_symlink or file.is_junction:
        kind = "link"
    elif file.is_socket:
        kind = "other"
    return Entry(str(file.filename), kind, int(file.uncompressed), file.compressed)


def _7z_wanted(files: list[Any], limits: ArchiveSettings) -> set[str]:
    """Names to extract: py7zr picks by name, so names shared with an empty file are
    left out (py7zr would hand out empty files first, out of order)."""
    empty = {str(file.filename) for file in files if file.emptystream}
    return {
        str(file.filename)
        for file in files
        if not file.emptystream
        and str(file.filename) not in empty
        and isinstance(verdict(_7z_entry(file), limits), str)
    }


def _7z_extracted(file: Any, wanted: set[str]) -> bool:
    """Whether py7zr hands out data for ``file`` (same rule as ``SevenZipFile.extract``)."""
    return bool(
        str(file.filename) in wanted and not file.emptystream and not file.is_directory and not file.is_socket
    )


def _7z_data(file: Any, data: bytes | None, cap: int) -> tuple[bytes, int | None]:
    if data is None and not file.emptystream:
        raise Problem(Reason.CORRUPT, "name is shared with an empty member; not read")
    return data or b"", file.compressed
