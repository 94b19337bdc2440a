"""The checks every member passes, whatever the format, and the archive-wide limits.

* its name must stay inside the archive (no absolute path, drive letter or ``..``);
  links are refused (:attr:`Reason.UNSAFE_PATH`), directories and devices are skipped;
* its unpacked size must fit ``archive.max_member_bytes`` (:attr:`Reason.TOO_LARGE`),
  checked on the declared size and again on the bytes actually read, which are read
  with a cap so that a lying header cannot fill memory;
* above 1 MiB, its unpacked/packed ratio must fit ``archive.max_ratio``
  (:attr:`Reason.ARCHIVE_BOMB`), where the format tells the packed size;
* the archive may hold at most ``archive.max_members`` entries and unpack at most
  ``archive.max_total_bytes`` (these raise :class:`ArchiveError` and end the archive).
"""

from __future__ import annotations

import lzma
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Literal

from lookalike.errors import ArchiveError, Reason
from lookalike.settings import ArchiveSettings
from lookalike.sources.archives.members import Member, MemberFailure

__all__ = [
    "STREAM_ERRORS",
    "Entry",
    "Guard",
    "Kind",
    "Problem",
    "Reader",
    "clean_name",
    "read_capped",
    "setting",
    "verdict",
]

Kind = Literal["file", "dir", "link", "other"]
#: What the decompressors raise on broken input.
STREAM_ERRORS = (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)
_MIB = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Entry:
    """An archive entry as its format lists it, before it is read."""

    name: str  # as stored in the archive
    kind: Kind
    size: int  # declared unpacked size
    packed: int | None  # declared packed size, where the format tells it


class Problem(Exception):
    """A member that cannot be read while the archive can go on."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


Reader = Callable[[int], tuple[bytes, int | None]]  # cap -> (data, packed size)


class Guard:
    """Counts the entries and unpacked bytes of one archive and applies the limits."""

    def __init__(self, limits: ArchiveSettings, uri: str | None) -> None:
        self.limits = limits
        self.uri = uri
        self.entries = 0
        self.total = 0
        self._pending = 0

    def error(self, reason: Reason, detail: str) -> ArchiveError:
        return ArchiveError(reason, detail, uri=self.uri)

    def corrupt(self, exc: BaseException) -> ArchiveError:
        why = str(exc) or type(exc).__name__
        return self.error(Reason.ARCHIVE_CORRUPT, f"archive is corrupt or truncated: {why}")

    def emit(self, entry: Entry, read: Reader, skip_cost: int = 0) -> Member | MemberFailure | None:
        """Count ``entry``, check it, read it with ``read`` and check what was read.

        ``skip_cost``: bytes unpacked anyway to get past the entry when it is not read
        (compressed tar streams); they count toward ``max_total_bytes`` from the next entry.
        """
        self._count()
        name = verdict(entry, self.limits)
        if not isinstance(name, str):
            self._pending = skip_cost
            return name
        self._check_total(self.total + entry.size)
        try:
            data, packed = read(self.limits.max_member_bytes)
        except Problem as exc:
            return MemberFailure(name, exc.reason, exc.detail)
        self.total += len(data)
        self._check_total(self.total)
        return check_size(name, len(data), packed, self.limits) or Member(name, data)

    def _count(self) -> None:
        """One more entry: the bytes skipped to reach it count, and so does the entry."""
        self.total, self._pending = self.total + self._pending, 0
        self._check_total(self.total)
        self.entries += 1
        if self.entries > self.limits.max_members:
            limit = setting("max_members", self.limits.max_members)
            raise self.error(Reason.ARCHIVE_LIMIT, f"archive has more entries than {limit}")

    def _check_total(self, total: int) -> None:
        if total > self.limits.max_total_bytes:
            limit = setting("max_total_bytes", self.limits.max_total_bytes)
            raise self.error(Reason.ARCHIVE_BOMB, f"unpacked size passes {limit}")


def setting(key: str, value: object) -> str:
    """A limit as its setting, with how to raise it."""
    return f"archive.{key}={value} (raise it with LOOKALIKE_ARCHIVE__{key.upper()})"


def verdict(entry: Entry, limits: ArchiveSettings) -> str | MemberFailure | None:
    """The clean name to read ``entry`` under, a failure, or None for a folder."""
    if entry.kind == "dir":
        return None
    name = clean_name(entry.name)
    if name is None:
        detail = "absolute path, drive letter or '..' in the member name"
        return MemberFailure(entry.name, Reason.UNSAFE_PATH, detail)
    if entry.kind == "link":
        return MemberFailure(name, Reason.UNSAFE_PATH, "member is a link; links are not followed")
    if entry.kind == "other":
        return MemberFailure(
            name, Reason.NOT_A_FILE, "member is a device or a FIFO, not a file; it is not read"
        )
    return check_size(name, entry.size, entry.packed, limits) or name


def check_size(name: str, size: int, packed: int | None, limits: ArchiveSettings) -> MemberFailure | None:
    """A failure when ``size`` bytes (unpacked from ``packed``) pass the member or ratio limit."""
    if size > limits.max_member_bytes:
        limit = setting("max_member_bytes", limits.max_member_bytes)
        return MemberFailure(name, Reason.TOO_LARGE, f"unpacks to {size} bytes, passes {limit}")
    if packed is not None and size > _MIB and size > limits.max_ratio * max(packed, 1):
        ratio = size / max(packed, 1)
        limit = setting("max_ratio", limits.max_ratio)
        detail = f"unpacks {max(packed, 1)} bytes to {size} (ratio {ratio:.0f}), passes {limit}"
        return MemberFailure(name, Reason.ARCHIVE_BOMB, detail)
    return None


def clean_name(raw: str) -> str | None:
    """``raw`` as a relative posix path, or None when it is absolute or climbs out."""
    name = _valid_text(raw).replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name) or "\0" in name:
        return None
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _valid_text(raw: str) -> str:
    """``raw`` with undecodable bytes (lone surrogates) replaced by U+FFFD."""
    try:
        data = raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = raw.encode("utf-8", "surrogatepass")
    return data.decode("utf-8", "replace")


def read_capped(stream: IO[bytes], cap: int) -> bytes:
    """At most ``cap + 1`` bytes of ``stream``: one more than ``cap`` means too large."""
    buffer = bytearray()
    while len(buffer) <= cap:
        chunk = stream.read(min(_MIB, cap + 1 - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    return bytes(buffer)
