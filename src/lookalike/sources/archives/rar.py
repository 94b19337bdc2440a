"""Rar members (and ``.cbr``), through rarfile and an external unar or unrar tool."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from lookalike.errors import Reason
from lookalike.sources.archives.guard import STREAM_ERRORS, Entry, Guard, Kind, Problem, read_capped
from lookalike.sources.archives.members import Member, MemberFailure

__all__ = ["iter_rar"]

_NO_RAR_TOOL = (
    "no RAR extractor found: install unar (apt-get install unar) or unrar, then rar archives can be read"
)
_NO_RARFILE = "rar archives need rarfile: pip install 'lookalike[archives]'"


def iter_rar(source: Path | bytes, guard: Guard) -> Iterator[Member | MemberFailure]:
    """The members of the rar ``source`` (a path, or bytes copied to a temporary file)."""
    try:
        import rarfile
    except ImportError as exc:
        raise guard.error(Reason.EXTRACTOR_MISSING, _NO_RARFILE) from exc
    with _on_disk(source) as path:
        try:
            archive = rarfile.RarFile(str(path), errors="strict")
        except (rarfile.Error, *STREAM_ERRORS) as exc:
            raise guard.corrupt(exc) from exc
        with archive:
            for info in archive.infolist():
                read = partial(_read_rar, rarfile, archive, info, guard)
                if (result := guard.emit(_rar_entry(info), read)) is not None:
                    yield result


@contextmanager
def _on_disk(source: Path | bytes) -> Iterator[Path]:
    """``source`` as a file: the rar tools cannot read from memory."""
    if isinstance(source, Path):
        yield source
        return
    handle = tempfile.NamedTemporaryFile(suffix=".rar", delete=False)  # noqa: SIM115
    try:
        with handle:
            handle.write(source)
        yield Path(handle.name)
    finally:
        os.unlink(handle.name)


def _rar_entry(info: Any) -> Entry:
    kind: Kind = "other"
    if info.is_dir():
        kind = "dir"
    elif info.is_symlink() or info.file_redir:
        kind = "link"
    elif info.is_file():
        kind = "file"
    return Entry(str(info.filename), kind, int(info.file_size), int(info.compress_size))


def _read_rar(rarfile: Any, archive: Any, info: Any, guard: Guard, cap: int) -> tuple[bytes, int]:
    if info.needs_password():
        raise Problem(Reason.UNREADABLE, "member is encrypted; encrypted rars are not supported")
    try:
        if info.compress_type != rarfile.RAR_M0:
            rarfile.tool_setup()  # before open(): rarfile leaks a temp file when it fails later
        with archive.open(info) as stream:
            return read_capped(stream, cap), int(info.compress_size)
    except rarfile.RarCannotExec as exc:
        raise guard.error(Reason.EXTRACTOR_MISSING, _NO_RAR_TOOL) from exc
    except (rarfile.Error, *STREAM_ERRORS) as exc:
        raise Problem(Reason.CORRUPT, f"cannot unpack member: {exc}") from exc
