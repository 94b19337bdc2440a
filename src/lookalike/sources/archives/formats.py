"""Read the members of zip, tar, 7z and rar archives into memory, with limits.

Nothing is written to disk (except a temporary copy of a rar given as bytes: the rar
tools need a file).  Every member passes the same checks, whatever the format:

* its name must stay inside the archive (no absolute path, drive letter or ``..``);
  links are refused (:attr:`Reason.UNSAFE_PATH`), directories and devices are skipped;
* its unpacked size must fit ``archive.max_member_bytes`` (:attr:`Reason.TOO_LARGE`),
  checked on the declared size and again on the bytes actually read, which are read
  with a cap so that a lying header cannot fill memory;
* above 1 MiB, its unpacked/packed ratio must fit ``archive.max_ratio``
  (:attr:`Reason.ARCHIVE_BOMB`), where the format tells the packed size;
* the archive may hold at most ``archive.max_members`` entries and unpack at most
  ``archive.max_total_bytes`` (these raise :class:`ArchiveError` and end the archive).

Archives inside archives come out as members; the caller opens them (``max_depth``).
"""

from __future__ import annotations

import io
import lzma
import os
import queue
import re
import stat
import tarfile
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Literal, cast

from lookalike.errors import ArchiveError, Reason
from lookalike.settings import ArchiveSettings

if TYPE_CHECKING:
    import py7zr
    from py7zr.io import WriterFactory

__all__ = ["ARCHIVE_SUFFIXES", "Member", "MemberFailure", "archive_kind", "iter_members"]

#: File name endings of the archives lookalike opens (``.cb?`` are comic-book archives).
ARCHIVE_SUFFIXES: tuple[str, ...] = (
    ".zip",
    ".cbz",
    ".tar",
    ".cbt",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".7z",
    ".cb7",
    ".rar",
    ".cbr",
)
_TAR_SUFFIXES = (".tar", ".cbt", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz
_HEAD = 512
_MIB = 1024 * 1024
#: Compressed bytes a tar stream may have read ahead of a member; added to the
#: measured packed size so that buffering never makes a member look like a bomb.
_TAR_SLACK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_STREAM_ERRORS = (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)
_NO_RAR_TOOL = (
    "no RAR extractor found: install unar (apt-get install unar) or unrar, then rar archives can be read"
)
_NO_PY7ZR = "7z archives need py7zr: pip install 'lookalike[archives]'"
_NO_RARFILE = "rar archives need rarfile: pip install 'lookalike[archives]'"

Kind = Literal["file", "dir", "link", "other"]


@dataclass(frozen=True)
class Member:
    """A regular file of an archive, read into memory."""

    name: str  # normalised posix path inside the archive, e.g. "sprites/hero.png"
    data: bytes


@dataclass(frozen=True)
class MemberFailure:
    """A member that was not read, and why; the archive goes on."""

    name: str
    reason: Reason
    detail: str


def archive_kind(head: bytes, name: str = "") -> str | None:
    """``"zip"``, ``"tar"``, ``"7z"`` or ``"rar"`` from the first bytes of a file, else None.

    A compressed stream (gzip, bzip2, xz) counts as tar only when ``name`` ends with a
    tar suffix (``.tar.gz``, ``.tgz``, ...); so does an old tar without the ustar magic.
    """
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith((b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00")):
        return "rar"
    if head[257:262] == b"ustar":
        return "tar"
    if name.lower().endswith(_TAR_SUFFIXES) and (
        head.startswith(_COMPRESSED_MAGIC) or _tar_checksum_ok(head)
    ):
        return "tar"
    return None


def _tar_checksum_ok(head: bytes) -> bool:
    """Whether ``head`` starts with a tar header whose checksum is right (pre-POSIX tar)."""
    if len(head) < 512:
        return False
    try:
        stored = int(head[148:156].replace(b"\0", b" ").strip() or b"-", 8)
    except ValueError:
        return False
    return stored == sum(head[:148]) + 8 * 0x20 + sum(head[156:512])


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
    guard = _Guard(limits, uri)
    with _opened(source, uri) as fileobj:
        kind = archive_kind(fileobj.read(_HEAD), name or getattr(source, "name", ""))
        fileobj.seek(0)
        if kind == "zip":
            yield from _iter_zip(fileobj, guard)
        elif kind == "tar":
            yield from _iter_tar(fileobj, guard)
        elif kind == "7z":
            yield from _iter_7z(fileobj, guard)
        elif kind == "rar":
            yield from _iter_rar(source, guard)
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


# --- the checks every format shares -------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str  # as stored in the archive
    kind: Kind
    size: int  # declared unpacked size
    packed: int | None  # declared packed size, where the format tells it


class _Problem(Exception):
    """A member that cannot be read while the archive can go on."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


Reader = Callable[[int], tuple[bytes, int | None]]  # cap -> (data, packed size)


class _Guard:
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

    def emit(self, entry: _Entry, read: Reader, skip_cost: int = 0) -> Member | MemberFailure | None:
        """Count ``entry``, check it, read it with ``read`` and check what was read.

        ``skip_cost``: bytes unpacked anyway to get past the entry when it is not read
        (compressed tar streams); they count toward ``max_total_bytes`` from the next entry.
        """
        self.total, self._pending = self.total + self._pending, 0
        self._check_total(self.total)
        self.entries += 1
        if self.entries > self.limits.max_members:
            limit = _setting("max_members", self.limits.max_members)
            raise self.error(Reason.ARCHIVE_LIMIT, f"archive has more entries than {limit}")
        verdict = _verdict(entry, self.limits)
        if not isinstance(verdict, str):
            self._pending = skip_cost
            return verdict
        self._check_total(self.total + entry.size)
        try:
            data, packed = read(self.limits.max_member_bytes)
        except _Problem as exc:
            return MemberFailure(verdict, exc.reason, exc.detail)
        self.total += len(data)
        self._check_total(self.total)
        return _check_size(verdict, len(data), packed, self.limits) or Member(verdict, data)

    def _check_total(self, total: int) -> None:
        if total > self.limits.max_total_bytes:
            limit = _setting("max_total_bytes", self.limits.max_total_bytes)
            raise self.error(Reason.ARCHIVE_BOMB, f"unpacked size passes {limit}")


def _setting(key: str, value: object) -> str:
    return f"archive.{key}={value} (raise it with LOOKALIKE_ARCHIVE__{key.upper()})"


def _verdict(entry: _Entry, limits: ArchiveSettings) -> str | MemberFailure | None:
    """The clean name to read ``entry`` under, a failure, or None to skip it silently."""
    if entry.kind in ("dir", "other"):
        return None
    name = _clean_name(entry.name)
    if name is None:
        detail = "absolute path, drive letter or '..' in the member name"
        return MemberFailure(entry.name, Reason.UNSAFE_PATH, detail)
    if entry.kind == "link":
        return MemberFailure(name, Reason.UNSAFE_PATH, "member is a link; links are not followed")
    return _check_size(name, entry.size, entry.packed, limits) or name


def _check_size(name: str, size: int, packed: int | None, limits: ArchiveSettings) -> MemberFailure | None:
    if size > limits.max_member_bytes:
        limit = _setting("max_member_bytes", limits.max_member_bytes)
        return MemberFailure(name, Reason.TOO_LARGE, f"unpacks to {size} bytes, passes {limit}")
    if packed is not None and size > _MIB and size > limits.max_ratio * max(packed, 1):
        ratio = size / max(packed, 1)
        limit = _setting("max_ratio", limits.max_ratio)
        detail = f"unpacks {max(packed, 1)} bytes to {size} (ratio {ratio:.0f}), passes {limit}"
        return MemberFailure(name, Reason.ARCHIVE_BOMB, detail)
    return None


def _clean_name(raw: str) -> str | None:
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


def _read_capped(stream: IO[bytes], cap: int) -> bytes:
    """At most ``cap + 1`` bytes of ``stream``: one more than ``cap`` means too large."""
    buffer = bytearray()
    while len(buffer) <= cap:
        chunk = stream.read(min(_MIB, cap + 1 - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    return bytes(buffer)


# --- zip ----------------------------------------------------------------------------


def _iter_zip(fileobj: BinaryIO, guard: _Guard) -> Iterator[Member | MemberFailure]:
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, *_STREAM_ERRORS) as exc:
        raise guard.corrupt(exc) from exc
    with archive:
        for info in archive.infolist():
            entry = _Entry(info.filename, _zip_kind(info), info.file_size, info.compress_size)
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
        raise _Problem(Reason.UNREADABLE, "member is encrypted; encrypted zips are not supported")
    try:
        with archive.open(info) as stream:
            return _read_capped(stream, cap), info.compress_size
    except NotImplementedError as exc:
        raise _Problem(Reason.UNSUPPORTED_FORMAT, f"cannot unpack member: {exc}") from exc
    except (zipfile.BadZipFile, *_STREAM_ERRORS) as exc:
        raise _Problem(Reason.CORRUPT, f"cannot unpack member: {exc}") from exc


# --- tar ----------------------------------------------------------------------------


def _iter_tar(fileobj: BinaryIO, guard: _Guard) -> Iterator[Member | MemberFailure]:
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as archive:
            compressed = archive.fileobj is not fileobj
            for info in archive:
                read = partial(_read_tar, archive, info, fileobj)
                skip_cost = info.size if compressed else 0
                if (result := guard.emit(_tar_entry(info), read, skip_cost)) is not None:
                    yield result
    except (tarfile.TarError, *_STREAM_ERRORS) as exc:
        raise guard.corrupt(exc) from exc


def _tar_entry(info: tarfile.TarInfo) -> _Entry:
    kind: Kind = "other"
    if info.isreg():
        kind = "file"
    elif info.isdir():
        kind = "dir"
    elif info.issym() or info.islnk():
        kind = "link"
    return _Entry(info.name, kind, info.size, None)


def _read_tar(archive: tarfile.TarFile, info: tarfile.TarInfo, raw: BinaryIO, cap: int) -> tuple[bytes, int]:
    """The member's bytes and the compressed bytes read meanwhile (its packed size)."""
    stream = archive.extractfile(info)
    if stream is None:
        raise _Problem(Reason.CORRUPT, "tar member has no data")
    start = raw.tell()
    with stream:
        data = _read_capped(stream, cap)
    return data, raw.tell() - start + _TAR_SLACK


# --- 7z -----------------------------------------------------------------------------


def _iter_7z(fileobj: BinaryIO, guard: _Guard) -> Iterator[Member | MemberFailure]:
    try:
        import py7zr
    except ImportError as exc:
        raise guard.error(Reason.EXTRACTOR_MISSING, _NO_PY7ZR) from exc
    archive = _open_7z(fileobj, guard)
    feed = _Feed(guard.limits.max_member_bytes)
    try:
        files = list(archive.files)
        wanted = _7z_wanted(files, guard.limits)
        if wanted:
            feed.start(archive, wanted)
        for file in files:
            data = feed.take(file.uncompressed) if _7z_extracted(file, wanted) else None
            if (result := guard.emit(_7z_entry(file), partial(_7z_data, file, data))) is not None:
                yield result
    except ArchiveError:
        raise
    except py7zr.DecompressionBombError as exc:
        limit = _setting("max_total_bytes", guard.limits.max_total_bytes)
        raise guard.error(Reason.ARCHIVE_BOMB, f"unpacking passes {limit}") from exc
    except Exception as exc:  # py7zr raises many kinds on broken input
        raise guard.corrupt(exc) from exc
    finally:
        feed.stop()
        archive.close()


def _open_7z(fileobj: BinaryIO, guard: _Guard) -> py7zr.SevenZipFile:
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


def _7z_entry(file: Any) -> _Entry:
    kind: Kind = "file"
    if file.is_directory:
        kind = "dir"
    elif file.is_symlink or file.is_junction:
        kind = "link"
    elif file.is_socket:
        kind = "other"
    return _Entry(str(file.filename), kind, int(file.uncompressed), file.compressed)


def _7z_wanted(files: list[Any], limits: ArchiveSettings) -> set[str]:
    """Names to extract: py7zr picks by name, so names shared with an empty file are
    left out (py7zr would hand out empty files first, out of order)."""
    empty = {str(file.filename) for file in files if file.emptystream}
    return {
        str(file.filename)
        for file in files
        if not file.emptystream
        and str(file.filename) not in empty
        and isinstance(_verdict(_7z_entry(file), limits), str)
    }


def _7z_extracted(file: Any, wanted: set[str]) -> bool:
    """Whether py7zr hands out data for ``file`` (same rule as ``SevenZipFile.extract``)."""
    return bool(
        str(file.filename) in wanted and not file.emptystream and not file.is_directory and not file.is_socket
    )


def _7z_data(file: Any, data: bytes | None, cap: int) -> tuple[bytes, int | None]:
    if data is None and not file.emptystream:
        raise _Problem(Reason.CORRUPT, "name is shared with an empty member; not read")
    return data or b"", file.compressed


class _Cancelled(Exception):
    """The reader stopped early; ends the extraction thread."""


class _Feed:
    """Turns py7zr's push (it writes members into writers) into a pull, one member at a
    time, so that only about one member is in memory.  Plays py7zr's ``WriterFactory``."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._queue: queue.Queue[bytes | Exception | None] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._buffer: bytearray | None = None
        self._thread: threading.Thread | None = None

    def start(self, archive: py7zr.SevenZipFile, names: set[str]) -> None:
        self._thread = threading.Thread(target=self._run, args=(archive, names), daemon=True)
        self._thread.start()

    def take(self, size: int) -> bytes:
        """The next extracted member, whose listed size is ``size``."""
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        if item is None or len(item) != min(size, self.cap + 1):
            raise EOFError("7z data does not match the archive's listing")
        return item

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def create(self, filename: str) -> _Sink:
        """Called by py7zr (in the thread) when the next member starts."""
        self.finish()  # in case this py7zr does not call close(): the next member ends one
        self._buffer = bytearray()
        return _Sink(self, self._buffer)

    def finish(self, buffer: bytearray | None = None) -> None:
        """Hands over the member being written (when given, only if ``buffer`` is it)."""
        if self._buffer is not None and (buffer is None or buffer is self._buffer):
            data, self._buffer = bytes(self._buffer), None
            self._put(data)

    def _run(self, archive: py7zr.SevenZipFile, names: set[str]) -> None:
        item: Exception | None = None
        try:
            archive.extract(targets=names, factory=cast("WriterFactory", self))
            self.finish()
        except _Cancelled:
            return
        except Exception as exc:  # handed to the reader, which raises it
            item = exc
        with suppress(_Cancelled):
            self._put(item)

    def _put(self, item: bytes | Exception | None) -> None:
        while not self._stop.is_set():
            with suppress(queue.Full):
                self._queue.put(item, timeout=0.05)
                return
        raise _Cancelled


class _Sink:
    """A py7zr writer that keeps the first ``cap + 1`` bytes of one member."""

    def __init__(self, feed: _Feed, buffer: bytearray) -> None:
        self._feed = feed
        self._buffer = buffer

    def write(self, data: bytes | bytearray) -> int:
        if self._feed.stopped:
            raise _Cancelled
        room = self._feed.cap + 1 - len(self._buffer)
        if room > 0:
            self._buffer += data[:room]
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self._buffer)

    def close(self) -> None:
        """Called by py7zr once the member is unpacked and its CRC checked."""
        self._feed.finish(self._buffer)


# --- rar ----------------------------------------------------------------------------


def _iter_rar(source: Path | bytes, guard: _Guard) -> Iterator[Member | MemberFailure]:
    try:
        import rarfile
    except ImportError as exc:
        raise guard.error(Reason.EXTRACTOR_MISSING, _NO_RARFILE) from exc
    with _on_disk(source) as path:
        try:
            archive = rarfile.RarFile(str(path), errors="strict")
        except (rarfile.Error, *_STREAM_ERRORS) as exc:
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


def _rar_entry(info: Any) -> _Entry:
    kind: Kind = "other"
    if info.is_dir():
        kind = "dir"
    elif info.is_symlink() or info.file_redir:
        kind = "link"
    elif info.is_file():
        kind = "file"
    return _Entry(str(info.filename), kind, int(info.file_size), int(info.compress_size))


def _read_rar(rarfile: Any, archive: Any, info: Any, guard: _Guard, cap: int) -> tuple[bytes, int]:
    if info.needs_password():
        raise _Problem(Reason.UNREADABLE, "member is encrypted; encrypted rars are not supported")
    try:
        if info.compress_type != rarfile.RAR_M0:
            rarfile.tool_setup()  # before open(): rarfile leaks a temp file when it fails later
        with archive.open(info) as stream:
            return _read_capped(stream, cap), int(info.compress_size)
    except rarfile.RarCannotExec as exc:
        raise guard.error(Reason.EXTRACTOR_MISSING, _NO_RAR_TOOL) from exc
    except (rarfile.Error, *_STREAM_ERRORS) as exc:
        raise _Problem(Reason.CORRUPT, f"cannot unpack member: {exc}") from exc
