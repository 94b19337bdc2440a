"""Sources: turn the paths a user names into files, and files into image bytes with provenance.

A plain file yields itself; an archive yields its members (and the members of
archives inside it, to ``archive.max_depth``), each with a uri of the form
``/path/sheets.zip!/tiles/grass.png``.  Nothing here decodes pixels.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from lookalike.errors import ArchiveError, InputError, Reason
from lookalike.records import CrawlUrl, Failure, Provenance
from lookalike.settings import ArchiveSettings, VideoSettings
from lookalike.sources.archives import Member, archive_kind, iter_members
from lookalike.sources.video import MISSING, available, looks_like_video

__all__ = [
    "ARCHIVE_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "Blob",
    "FileEntry",
    "Listing",
    "Rejected",
    "archive_blobs",
    "blobs",
    "blobs_in",
    "fs_path",
    "load_metadata",
    "load_urls",
    "path_text",
    "walk",
]

IMAGE_EXTENSIONS = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".apng",
        ".gif",
        ".webp",
        ".bmp",
        ".dib",
        ".tif",
        ".tiff",
        ".mpo",
        ".heic",
        ".heif",
        ".avif",
        ".svg",
        ".ico",
        ".jxl",
        # decoded by Pillow (decode.FORMATS): Netpbm, Targa, PCX, QOI, SGI, DirectDraw textures
        ".pbm",
        ".pgm",
        ".ppm",
        ".pnm",
        ".pfm",
        ".tga",
        ".pcx",
        ".qoi",
        ".sgi",
        ".dds",
    ]
)
ARCHIVE_EXTENSIONS = frozenset(
    [".zip", ".cbz", ".tar", ".tgz", ".tbz2", ".txz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".cbr"]
)
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
HEAD_BYTES = 4096


#: Marks a byte of a file name that is not UTF-8 in catalog text (followed by its two hex digits).
MARK = "\ufffd"


def path_text(path: str | os.PathLike[str]) -> str:
    """A file system path as catalog text, losslessly: any byte string is a legal name on Linux.

    Python keeps a name's bytes that are not UTF-8 as lone surrogates, which no database
    stores; each becomes U+FFFD and the byte's two hex digits (``bad\ufffdFFname.jpg``
    shows as ``bad�FFname.jpg``), and a U+FFFD in the name itself is doubled.  The
    change is per character, so a folder's text is still a prefix of its files' text.
    """
    text = os.fspath(path)
    if text.isascii() or (MARK not in text and not _has_surrogates(text)):
        return text
    out = []
    for ch in text:
        if ch == MARK:
            out.append(MARK * 2)
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"{MARK}{ord(ch) - 0xDC00:02X}")
        else:
            out.append(ch)
    return "".join(out)


def fs_path(text: str) -> str:
    """The path :func:`path_text` made ``text`` from, to open the file with."""
    if MARK not in text:
        return text
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != MARK:
            out.append(ch)
            i += 1
        elif text[i + 1 : i + 2] == MARK:
            out.append(MARK)
            i += 2
        else:
            out.append(chr(0xDC00 + int(text[i + 1 : i + 3], 16)))
            i += 3
    return "".join(out)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@dataclass(frozen=True)
class FileEntry:
    """A file found on disk; ``path`` is catalog text (:func:`path_text`).

    ``skipped`` says why an entry the walk met is not read (a FIFO, a dangling link, a link
    out of the indexed folders): it is recorded with that reason, so every entry is accounted for.
    An object in a bucket is an entry too: its ``path`` is its URL (``s3://bucket/key``) and its
    ``etag`` tells whether it changed.
    """

    path: str
    size: int
    mtime: float
    skipped: Failure | None = None
    etag: str | None = None


FollowLinks = Literal["inside", "all", "none"]


@dataclass(frozen=True)
class Listing:
    """What a source that lists its target found: every entry, and the ``root`` under which places
    that were not seen again are retired (None: the target is one entry, nothing is retired)."""

    entries: list[FileEntry]
    root: str | None


@dataclass(frozen=True)
class Blob:
    """The bytes of one candidate image and where they were seen."""

    where: Provenance
    data: bytes


@dataclass(frozen=True)
class Rejected:
    """A candidate that could not be read, and why."""

    where: Provenance
    failure: Failure


def walk(
    paths: Sequence[Path],
    exclude: Sequence[Path] = (),
    follow: FollowLinks = "inside",
    within: Sequence[Path] | None = None,
) -> Iterator[FileEntry]:
    """Files under ``paths`` (recursively, sorted, hidden names skipped), absolute and resolved.

    Entries that are not read come out too, with the reason in ``skipped``: FIFOs, sockets and
    devices, dangling links and link loops, links to folders (never walked through), and
    links to files that ``follow`` does not follow (``inside``: those that point out of the
    folders ``within``, by default the folders among ``paths``).  With ``within`` (paths met inside
    those folders: a watched folder's changes), a path that is a link is taken as the link, as a walk
    of its folder meets it, not as its target.
    """
    skip = {str(p.resolve()) for p in exclude}
    if within is None:
        roots = [p.resolve() for p in paths]
        links = _Links(follow, tuple(r for r in roots if r.is_dir()))
    else:
        roots = [p.parent.resolve() / p.name for p in paths]
        links = _Links(follow, tuple(r.resolve() for r in within if r.is_dir()))
    for root in roots:
        if root.is_dir() and not root.is_symlink():
            yield from _walk_dir(root, skip, links)
        elif within is not None and os.path.lexists(root):
            yield _found(root, links)
        elif root.exists():
            yield _entry(root, root.stat())


@dataclass(frozen=True)
class _Links:
    follow: FollowLinks
    roots: tuple[Path, ...]

    def check(self, path: Path) -> Failure | None:
        """Why the link at ``path`` is not followed, or None to follow it."""
        if self.follow == "none":
            return Failure(Reason.LINK_NOT_FOLLOWED, "a symbolic link (ingest.follow_symlinks=none)")
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return Failure(Reason.BROKEN_LINK, "a symbolic link to nothing (dangling, or a loop)")
        if target.is_dir():
            return Failure(Reason.LINK_NOT_FOLLOWED, "a link to a folder: name the folder itself to index it")
        if self.follow == "inside" and not any(target.is_relative_to(r) for r in self.roots):
            return Failure(
                Reason.LINK_NOT_FOLLOWED,
                f"a symbolic link out of the indexed folders (to {path_text(target)}); "
                "ingest.follow_symlinks=all follows it",
            )
        return None


def _walk_dir(root: Path, skip: set[str], links: _Links) -> Iterator[FileEntry]:
    for folder, dirs, files in os.walk(root):
        kept = sorted(d for d in dirs if not d.startswith(".") and os.path.join(folder, d) not in skip)
        dirs[:] = [d for d in kept if not os.path.islink(os.path.join(folder, d))]
        linked = [d for d in kept if d not in dirs]
        for name in sorted([*linked, *(f for f in files if not f.startswith("."))]):
            yield _found(Path(folder, name), links)


def _found(path: Path, links: _Links) -> FileEntry:
    """The entry for one name in a folder: a file to read, or why it is skipped."""
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            if (why := links.check(path)) is not None:
                return _skipped(path, why)
            st = path.stat()
    except OSError as exc:
        return _skipped(path, Failure(Reason.UNREADABLE, f"cannot read the file: {exc.strerror or exc}"))
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "a device"
        )
        return _skipped(path, Failure(Reason.NOT_A_FILE, f"not a regular file ({kind}); it is not read"))
    return _entry(path, st)


def _entry(path: Path, st: os.stat_result) -> FileEntry:
    return FileEntry(path_text(path), st.st_size, st.st_mtime)


def _skipped(path: Path, why: Failure) -> FileEntry:
    return FileEntry(path_text(path), -1, 0.0, skipped=why)


def looks_like_image(name: str, head: bytes) -> bool:
    suffix = os.path.splitext(name)[1].lower()
    webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return suffix in IMAGE_EXTENSIONS or webp or head.startswith(_IMAGE_MAGIC)


def blobs(
    entry: FileEntry, settings: ArchiveSettings, video: VideoSettings | None = None
) -> Iterator[Blob | Rejected]:
    """The candidate images in one file: itself, or its archive members; a video file (with
    ``video.enabled``) is a candidate whose frames the extraction picks."""
    where = Provenance(uri=entry.path, file=entry.path, size=entry.size, mtime=entry.mtime)
    if entry.skipped is not None:
        yield Rejected(replace(where, size=None, mtime=None), entry.skipped)
        return
    try:
        with open(fs_path(entry.path), "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        yield Rejected(where, Failure(Reason.UNREADABLE, f"cannot read the file: {exc.strerror or exc}"))
        return
    if archive_kind(head, entry.path):
        yield from _members(Path(fs_path(entry.path)), entry.path, where, settings, depth=0)
    elif looks_like_image(entry.path, head):
        yield _read(where, entry.path)
    elif looks_like_video(entry.path, head):
        yield from _video(where, entry, video or VideoSettings())


def _video(where: Provenance, entry: FileEntry, settings: VideoSettings) -> Iterator[Blob | Rejected]:
    if not settings.enabled:
        return
    if not available():
        yield Rejected(where, Failure(Reason.DECODER_MISSING, MISSING))
    elif entry.size > settings.max_bytes:
        detail = f"{entry.size} bytes is more than video.max_bytes={settings.max_bytes}"
        yield Rejected(where, Failure(Reason.TOO_LARGE, detail))
    else:
        yield _read(where, entry.path)


def blobs_in(data: bytes, where: Provenance, settings: ArchiveSettings) -> Iterator[Blob | Rejected]:
    """The candidate images in bytes from elsewhere (a URL): themselves, or their archive members.

    Members are seen at ``{where.uri}!/{member}`` and keep the rest of ``where``
    (the page they were found on, its title, tags, ...).
    """
    name = urlsplit(where.uri).path if "://" in where.uri else where.uri
    head = data[:HEAD_BYTES]
    if archive_kind(head, name):
        yield from _members(data, where.uri, where, settings, depth=0)
    elif looks_like_image(name, head):
        yield Blob(where, data)


def archive_blobs(
    source: Path | bytes, where: Provenance, settings: ArchiveSettings
) -> Iterator[Blob | Rejected]:
    """The images in an archive seen at ``where`` (a local copy, or its bytes): members at
    ``{where.uri}!/{member}``, with the limits and nesting of :func:`blobs`."""
    return _members(source, where.uri, where, settings, depth=0)


def _read(where: Provenance, path: str) -> Blob | Rejected:
    try:
        with open(fs_path(path), "rb") as fh:
            return Blob(where, fh.read())
    except OSError as exc:
        return Rejected(where, Failure(Reason.UNREADABLE, f"cannot read the file: {exc.strerror or exc}"))


def _members(
    source: Path | bytes, uri: str, outer: Provenance, settings: ArchiveSettings, depth: int
) -> Iterator[Blob | Rejected]:
    """Members of the archive at ``uri``, inside the outermost archive seen at ``outer``."""
    name = uri.rsplit("!/", 1)[-1]
    try:
        for item in iter_members(source, settings, name=name):
            member_uri = f"{uri}!/{item.name}"
            member = member_uri[len(outer.uri) + 2 :]
            where = replace(outer, uri=member_uri, member=member, size=None, mtime=None)
            if not isinstance(item, Member):
                yield Rejected(where, Failure(item.reason, item.detail))
            elif archive_kind(item.data[:HEAD_BYTES], item.name):
                if depth < settings.max_depth:
                    yield from _members(item.data, member_uri, outer, settings, depth + 1)
                else:
                    yield Rejected(where, _too_deep(settings.max_depth))
            elif looks_like_image(item.name, item.data[:HEAD_BYTES]):
                yield Blob(where, item.data)
    except ArchiveError as exc:
        yield Rejected(replace(outer, uri=uri), Failure(exc.reason, exc.detail))


def _too_deep(max_depth: int) -> Failure:
    return Failure(
        Reason.ARCHIVE_TOO_DEEP,
        f"an archive nested more than {max_depth} deep was not opened; raise archive.max_depth to read it",
    )


def load_metadata(path: Path) -> dict[str, Provenance]:
    """Sidecar metadata: one JSON object per line, keyed by the file it describes.

    ``path`` (or ``file`` / ``filename``) names the file, relative to the JSONL
    file's folder or absolute; an archive member is ``archive.zip!/member.png``.
    ``title``, ``text``, ``tags``, ``url`` and ``page_url`` are known fields;
    every other field is kept as extra metadata (price, licence, ...).
    """
    found: dict[str, Provenance] = {}
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise InputError(Reason.CORRUPT, f"line {number} is not JSON: {exc}", str(path)) from None
            uri = _metadata_uri(item, path.parent)
            if uri is None:
                raise InputError(
                    Reason.CORRUPT, f"line {number} names no 'path', 'file' or 'filename'", str(path)
                )
            found[uri] = _provenance(uri, item)
    return found


def _metadata_uri(item: Mapping[str, Any], base: Path) -> str | None:
    name: str | None = next(
        (str(item[k]) for k in ("path", "file", "filename") if isinstance(item.get(k), str)), None
    )
    if name is None:
        return None
    outer, sep, inner = name.partition("!/")
    return path_text((base / outer).resolve()) + sep + inner


def _provenance(uri: str, item: Mapping[str, Any]) -> Provenance:
    known = {"path", "file", "filename", "title", "text", "tags", "url", "page_url"}
    tags = item.get("tags") or ()
    if isinstance(tags, str):
        tags = [t for t in tags.replace(",", " ").split() if t]
    return Provenance(
        uri=uri,
        url=item.get("url"),
        page_url=item.get("page_url"),
        title=item.get("title"),
        text=item.get("text"),
        tags=tuple(str(t) for t in tags),
        extra={k: v for k, v in item.items() if k not in known},
    )


def load_urls(path: Path) -> list[CrawlUrl]:
    """A list of file URLs to fetch: one URL per line, or one JSON object per line.

    A JSON line names the file by ``url`` and may carry ``page_url``, ``title``,
    ``text``, ``tags`` and any other fields (kept as extra metadata).  Blank lines
    and lines starting with ``#`` are skipped.
    """
    found: list[CrawlUrl] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            item: dict[str, Any] = {"url": line}
            if line.startswith("{"):
                try:
                    item = json.loads(line)
                except ValueError as exc:
                    raise InputError(Reason.CORRUPT, f"line {number} is not JSON: {exc}", str(path)) from None
            url = item.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise InputError(Reason.CORRUPT, f"line {number} names no http(s) 'url'", str(path))
            where = _provenance(url, item)
            metadata = {"text": where.text, "tags": list(where.tags), "extra": dict(where.extra)}
            found.append(CrawlUrl(url, "file", page_url=where.page_url, title=where.title, metadata=metadata))
    return found
