"""Which archive a file is: by its first bytes, and (compressed tar) by its name."""

from __future__ import annotations

__all__ = ["ARCHIVE_SUFFIXES", "HEAD", "archive_kind"]

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
#: Bytes of a file that :func:`archive_kind` needs.
HEAD = 512
_TAR_SUFFIXES = (".tar", ".cbt", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz


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
