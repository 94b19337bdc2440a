"""Archives: every format round trips, hostile archives are refused, limits hold.

Every archive is built here, in ``tmp_path`` or in memory; nothing is fetched.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import sys
import tarfile
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path

import py7zr
import pytest
from PIL import Image

from lookalike.errors import ArchiveError, Reason
from lookalike.settings import ArchiveSettings
from lookalike.sources.archives import (
    ARCHIVE_SUFFIXES,
    Member,
    MemberFailure,
    archive_kind,
    iter_members,
)

LIMITS = ArchiveSettings()
MIB = 1024 * 1024


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 40 % 256, 90, 200)).save(buffer, "PNG")
    return buffer.getvalue()


# (name, data); data None is a directory
Content = Sequence[tuple[str, bytes | None]]

NESTED: Content = [
    ("sprites/", None),
    ("sprites/hero.png", png(1)),
    ("sprites/enemies/bat.png", png(2)),
    ("./sprites//enemies/./rat.png", png(3)),
    ("cover.png", png(4)),
]
NESTED_OUT = {
    "sprites/hero.png": png(1),
    "sprites/enemies/bat.png": png(2),
    "sprites/enemies/rat.png": png(3),
    "cover.png": png(4),
}


def zip_bytes(content: Content, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in content:
            if data is None:
                archive.writestr(zipfile.ZipInfo(name.rstrip("/") + "/"), b"")
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(content: Content, mode: str = "w:gz", links: Iterable[tarfile.TarInfo] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in content:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        for link in links:
            archive.addfile(link)
    return buffer.getvalue()


def sevenzip_bytes(content: Content, tmp_path: Path) -> bytes:
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        for name, data in content:
            if data is None:
                folder = tmp_path / "7z-dir"
                folder.mkdir(exist_ok=True)
                archive.write(folder, name.rstrip("/"))
            else:
                archive.writestr(data, name)
    return buffer.getvalue()


def build(kind: str, content: Content, tmp_path: Path) -> Path:
    """``content`` as an archive file of ``kind`` (a suffix) in ``tmp_path``."""
    if kind == ".zip":
        data = zip_bytes(content)
    elif kind == ".7z":
        data = sevenzip_bytes([(n.lstrip("./"), d) for n, d in content], tmp_path)
    else:
        mode = {".tar": "w", ".tar.gz": "w:gz", ".tar.bz2": "w:bz2", ".tar.xz": "w:xz"}[kind]
        data = tar_bytes(content, mode)
    path = tmp_path / f"archive{kind}"
    path.write_bytes(data)
    return path


def split(results: Iterable[Member | MemberFailure]) -> tuple[dict[str, bytes], dict[str, Reason]]:
    members: dict[str, bytes] = {}
    failures: dict[str, Reason] = {}
    for result in results:
        if isinstance(result, Member):
            members[result.name] = result.data
        else:
            failures[result.name] = result.reason
    return members, failures


def read_until_error(
    source: Path | bytes, limits: ArchiveSettings = LIMITS, name: str = ""
) -> tuple[list[Member | MemberFailure], ArchiveError]:
    results: list[Member | MemberFailure] = []
    with pytest.raises(ArchiveError) as caught:
        for result in iter_members(source, limits, name):
            results.append(result)
    return results, caught.value


# --- kinds and round trips ------------------------------------------------------------


def test_archive_kind_by_magic_bytes(tmp_path: Path) -> None:
    content: Content = [("a.png", png(1))]
    assert archive_kind(zip_bytes(content)) == "zip"
    assert archive_kind(zip_bytes([])) == "zip"  # empty zip: end-of-directory record only
    assert archive_kind(tar_bytes(content, "w")) == "tar"
    for mode, name in [("w:gz", "a.tar.gz"), ("w:gz", "A.TGZ"), ("w:bz2", "a.tar.bz2"), ("w:xz", "a.txz")]:
        compressed = tar_bytes(content, mode)
        assert archive_kind(compressed, name) == "tar"
        assert archive_kind(compressed, "a.gz") is None  # a bare compressed stream is no archive
        assert archive_kind(compressed) is None
    header = tar_bytes(content, "w")[:512]
    header = header[:257] + bytes(8) + header[265:]  # a pre-POSIX tar: no ustar magic
    checksum = sum(header[:148]) + 8 * 0x20 + sum(header[156:])
    old_tar = header[:148] + b"%06o\0 " % checksum + header[156:]
    assert archive_kind(old_tar, "a.tar") == "tar"  # the header checksum decides
    assert archive_kind(old_tar) is None
    assert archive_kind(header, "a.tar") is None  # wrong checksum
    assert archive_kind(sevenzip_bytes(content, tmp_path)) == "7z"
    assert archive_kind(b"Rar!\x1a\x07\x00" + bytes(20)) == "rar"
    assert archive_kind(b"Rar!\x1a\x07\x01\x00" + bytes(20)) == "rar"
    assert archive_kind(png(1), "a.png") is None
    assert archive_kind(b"", "a.tar") is None
    assert {".zip", ".cbz", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".7z", ".rar"} <= set(
        ARCHIVE_SUFFIXES
    )


@pytest.mark.parametrize("kind", [".zip", ".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".7z"])
def test_round_trip_with_nested_folders(kind: str, tmp_path: Path) -> None:
    path = build(kind, NESTED, tmp_path)
    results = list(iter_members(path, LIMITS))
    assert all(isinstance(result, Member) for result in results)  # directories are skipped
    assert [result.name for result in results] == list(NESTED_OUT)  # archive order
    assert split(results)[0] == NESTED_OUT
    with Image.open(io.BytesIO(NESTED_OUT["sprites/hero.png"])) as image:
        assert image.size == (8, 8)


def test_bytes_input_nested_archive(tmp_path: Path) -> None:
    inner = tar_bytes([("deep/inner.png", png(5))], "w:bz2")
    outer = build(".zip", [("pack/inner.tar.bz2", inner), ("top.png", png(6))], tmp_path)
    members = split(iter_members(outer, LIMITS))[0]
    assert members["pack/inner.tar.bz2"] == inner  # not opened: the caller recurses
    nested = list(iter_members(members["pack/inner.tar.bz2"], LIMITS, name="pack/inner.tar.bz2"))
    assert nested == [Member("deep/inner.png", png(5))]
    with pytest.raises(ArchiveError) as caught:  # without the name a bz2 stream is unknown
        list(iter_members(inner, LIMITS))
    assert caught.value.reason is Reason.ARCHIVE_CORRUPT


def test_empty_members_and_empty_archive(tmp_path: Path) -> None:
    assert list(iter_members(zip_bytes([]), LIMITS)) == []
    for kind in (".zip", ".7z", ".tar.gz"):
        path = build(kind, [("empty.png", b""), ("full.png", png(1))], tmp_path)
        assert split(iter_members(path, LIMITS))[0] == {"empty.png": b"", "full.png": png(1)}


# --- unsafe members ---------------------------------------------------------------------

UNSAFE = [
    "../evil.png",
    "/abs.png",
    "a/../../b.png",
    "a/../c.png",
    "..\\win.png",
    "C:/drive.png",
    "d\\..\\..\\e.png",
]


@pytest.mark.parametrize("kind", [".zip", ".tar.gz"])
def test_path_traversal_is_refused(kind: str, tmp_path: Path) -> None:
    content: Content = [(name, png(1)) for name in UNSAFE] + [("ok\\sub.png", png(2))]
    members, failures = split(iter_members(build(kind, content, tmp_path), LIMITS))
    assert members == {"ok/sub.png": png(2)}
    assert set(failures) == set(UNSAFE)
    assert set(failures.values()) == {Reason.UNSAFE_PATH}


def test_tar_links_are_refused(tmp_path: Path) -> None:
    symlink = tarfile.TarInfo("pics/link.png")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hardlink = tarfile.TarInfo("pics/hard.png")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, "pics/real.png"
    fifo = tarfile.TarInfo("pics/fifo")
    fifo.type = tarfile.FIFOTYPE  # devices and fifos are recorded, never read
    data = tar_bytes([("pics/real.png", png(1))], "w", [symlink, hardlink, fifo])
    members, failures = split(iter_members(data, LIMITS))
    assert members == {"pics/real.png": png(1)}
    assert failures == {
        "pics/link.png": Reason.UNSAFE_PATH,
        "pics/hard.png": Reason.UNSAFE_PATH,
        "pics/fifo": Reason.NOT_A_FILE,
    }


def test_zip_symlink_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("real.png", png(1))
    members, failures = split(iter_members(buffer.getvalue(), LIMITS))
    assert members == {"real.png": png(1)}
    assert failures == {"link.png": Reason.UNSAFE_PATH}


# --- limits -----------------------------------------------------------------------------


def test_zip_bomb_member_is_refused_others_still_come_out(tmp_path: Path) -> None:
    content: Content = [
        ("before.png", png(1)),
        ("bomb.png", bytes(20 * MIB)),  # deflates to about 20 KB
        ("small-zeros.bin", bytes(512 * 1024)),  # highly compressible but under 1 MiB: fine
        ("after.png", png(2)),
    ]
    path = build(".zip", content, tmp_path)
    assert path.stat().st_size < 100_000
    results = list(iter_members(path, ArchiveSettings(max_ratio=200)))
    members, failures = split(results)
    assert list(members) == ["before.png", "small-zeros.bin", "after.png"]
    assert failures == {"bomb.png": Reason.ARCHIVE_BOMB}
    bomb = next(r for r in results if isinstance(r, MemberFailure))
    assert "archive.max_ratio=200" in bomb.detail
    assert len(split(iter_members(path, ArchiveSettings(max_ratio=5000)))[0]) == 4


def test_tar_gz_bomb_member_is_refused() -> None:
    data = tar_bytes([("a.png", png(1)), ("bomb.png", bytes(30 * MIB)), ("b.png", png(2))])
    members, failures = split(iter_members(data, LIMITS, name="x.tgz"))
    assert list(members) == ["a.png", "b.png"]
    assert failures == {"bomb.png": Reason.ARCHIVE_BOMB}


@pytest.mark.parametrize("kind", [".zip", ".tar.gz", ".7z"])
def test_too_large_member_is_refused(kind: str, tmp_path: Path) -> None:
    big = os.urandom(3000)
    path = build(kind, [("a.png", png(1)), ("big.png", big), ("b.png", png(2))], tmp_path)
    results = list(iter_members(path, ArchiveSettings(max_member_bytes=2000)))
    members, failures = split(results)
    assert list(members) == ["a.png", "b.png"]
    assert failures == {"big.png": Reason.TOO_LARGE}
    assert any("archive.max_member_bytes=2000" in r.detail for r in results if isinstance(r, MemberFailure))


@pytest.mark.parametrize("kind", [".zip", ".tar.gz", ".7z"])
def test_total_bytes_limit(kind: str, tmp_path: Path) -> None:
    path = build(kind, [(f"{i}.bin", os.urandom(4000)) for i in range(4)], tmp_path)
    results, error = read_until_error(path, ArchiveSettings(max_total_bytes=10_000))
    assert [r.name for r in results] == ["0.bin", "1.bin"]
    assert error.reason is Reason.ARCHIVE_BOMB
    assert "archive.max_total_bytes=10000" in error.detail
    assert error.uri == str(path)


def test_members_unpacked_only_to_be_skipped_count_toward_the_total(tmp_path: Path) -> None:
    """A compressed tar or a solid 7z must unpack a refused member to reach the next one."""
    content: Content = [("a.bin", b"a" * 100), ("big.bin", os.urandom(3000)), ("c.bin", b"c" * 100)]
    limits = ArchiveSettings(max_member_bytes=2000, max_total_bytes=2500)
    for kind in (".tar.gz", ".7z"):
        results, error = read_until_error(build(kind, content, tmp_path), limits)
        assert [(r.name, type(r)) for r in results] == [("a.bin", Member), ("big.bin", MemberFailure)]
        assert error.reason is Reason.ARCHIVE_BOMB
        assert "archive.max_total_bytes=2500" in error.detail
    for kind in (".tar", ".zip"):  # skipping costs nothing here
        assert split(iter_members(build(kind, content, tmp_path), limits))[0] == {
            "a.bin": b"a" * 100,
            "c.bin": b"c" * 100,
        }


@pytest.mark.parametrize("kind", [".zip", ".tar", ".7z"])
def test_member_count_limit(kind: str, tmp_path: Path) -> None:
    path = build(kind, [(f"{i}.png", png(i)) for i in range(5)], tmp_path)
    results, error = read_until_error(path, ArchiveSettings(max_members=3))
    assert [r.name for r in results] == ["0.png", "1.png", "2.png"]
    assert error.reason is Reason.ARCHIVE_LIMIT
    assert "archive.max_members=3" in error.detail
    assert len(list(iter_members(path, ArchiveSettings(max_members=5)))) == 5


def test_lying_zip_header_is_not_trusted() -> None:
    """The central directory says 100 bytes; the member really unpacks to 300 KB."""
    data = bytearray(zip_bytes([("liar.png", os.urandom(300_000)), ("ok.png", png(1))]))
    entry = data.index(b"PK\x01\x02")  # first central directory entry: liar.png
    struct.pack_into("<I", data, entry + 24, 100)  # uncompressed size
    results = list(iter_members(bytes(data), ArchiveSettings(max_member_bytes=1000)))
    members, failures = split(results)
    assert members == {"ok.png": png(1)}
    assert failures == {"liar.png": Reason.CORRUPT}  # read stops at 100 bytes, CRC fails


# --- corrupt input ------------------------------------------------------------------------


def test_truncated_and_random_input_is_corrupt(tmp_path: Path) -> None:
    data = zip_bytes([(f"{i}.png", png(i)) for i in range(3)])
    for broken in (data[: len(data) // 2], os.urandom(2000), b"PK\x03\x04" + os.urandom(500), b""):
        _, error = read_until_error(broken, name="broken.zip")
        assert error.reason is Reason.ARCHIVE_CORRUPT
        assert error.uri == "broken.zip"
    path = tmp_path / "noise.zip"
    path.write_bytes(os.urandom(1000))
    assert read_until_error(path)[1].reason is Reason.ARCHIVE_CORRUPT


def test_truncated_tar_keeps_members_already_read() -> None:
    data = tar_bytes([("a.png", png(1)), ("b.bin", os.urandom(200_000)), ("c.png", png(3))], "w")
    results, error = read_until_error(data[:100_000])
    assert results == [Member("a.png", png(1))]
    assert error.reason is Reason.ARCHIVE_CORRUPT
    gz = tar_bytes([("a.png", png(1)), ("b.bin", os.urandom(200_000))])
    assert read_until_error(gz[:-5000], name="x.tar.gz")[1].reason is Reason.ARCHIVE_CORRUPT


def test_crc_error_in_one_zip_member_lets_the_rest_through() -> None:
    data = bytearray(zip_bytes([("a.bin", b"A" * 1000), ("b.png", png(2))], zipfile.ZIP_STORED))
    data[data.index(b"A" * 10)] ^= 0xFF
    members, failures = split(iter_members(bytes(data), LIMITS))
    assert members == {"b.png": png(2)}
    assert failures == {"a.bin": Reason.CORRUPT}


def test_corrupt_7z_is_archive_corrupt(tmp_path: Path) -> None:
    data = bytearray(sevenzip_bytes([("a.bin", os.urandom(5000)), ("b.png", png(1))], tmp_path))
    for offset in range(40, 200):
        data[offset] ^= 0x55
    assert read_until_error(bytes(data))[1].reason is Reason.ARCHIVE_CORRUPT
    _, error = read_until_error(b"7z\xbc\xaf\x27\x1c" + os.urandom(100))
    assert error.reason is Reason.ARCHIVE_CORRUPT


def test_7z_reader_can_stop_early(tmp_path: Path) -> None:
    threads = threading.active_count()
    data = sevenzip_bytes([(f"{i}.bin", os.urandom(50_000)) for i in range(5)], tmp_path)
    results = iter_members(data, LIMITS)
    assert isinstance(results, Generator)
    assert next(results).name == "0.bin"
    results.close()  # the extraction thread stops and is joined
    assert threading.active_count() == threads


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    _, error = read_until_error(tmp_path / "nope.zip")
    assert error.reason is Reason.UNREADABLE


def test_missing_py7zr_is_extractor_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = sevenzip_bytes([("a.png", png(1))], tmp_path)
    monkeypatch.setitem(sys.modules, "py7zr", None)
    _, error = read_until_error(data)
    assert error.reason is Reason.EXTRACTOR_MISSING
    assert "lookalike[archives]" in error.detail


# --- rar ----------------------------------------------------------------------------------


def rar4(files: list[tuple[str, bytes, int]]) -> bytes:
    """A RAR 4 archive; method 0x30 stores (rarfile reads it without any tool)."""

    def block(kind: int, flags: int, body: bytes) -> bytes:
        header = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
        return struct.pack("<H", zlib.crc32(header) & 0xFFFF) + header

    out = b"Rar!\x1a\x07\x00" + block(0x73, 0, bytes(6))
    for name, data, method in files:
        raw = name.encode()
        dos_time = (40 << 25) | (1 << 21) | (1 << 16)
        fields = (len(data), len(data), 3, zlib.crc32(data), dos_time, 20, method, len(raw), 0o100644)
        out += block(0x74, 0x8000, struct.pack("<IIBIIBBHI", *fields) + raw) + data
    return out + block(0x7B, 0x4000, b"")


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Temporary files (the copy of a rar given as bytes) go to a folder the test checks."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_stored_rar_round_trip(private_tmp: Path, tmp_path: Path) -> None:
    pytest.importorskip("rarfile")
    data = rar4([("pics/a.png", png(1), 0x30), ("../evil.png", png(2), 0x30), ("b.png", png(3), 0x30)])
    assert archive_kind(data) == "rar"
    members, failures = split(iter_members(data, LIMITS, name="x.rar"))
    assert members == {"pics/a.png": png(1), "b.png": png(3)}
    assert failures == {"../evil.png": Reason.UNSAFE_PATH}
    assert list(private_tmp.iterdir()) == []  # the temporary copy is gone
    path = tmp_path / "x.rar"
    path.write_bytes(data)
    assert split(iter_members(path, LIMITS))[0] == members


def test_compressed_rar_needs_an_extractor(private_tmp: Path) -> None:
    """Without unar/unrar: EXTRACTOR_MISSING; with one, the fake data is corrupt."""
    pytest.importorskip("rarfile")
    data = rar4([("a.png", png(1), 0x30), ("b.png", b"not really compressed", 0x33)])
    has_tool = any(shutil.which(tool) for tool in ("unrar", "unar", "7z", "7zz", "bsdtar"))
    results: list[Member | MemberFailure] = []
    try:
        for result in iter_members(data, LIMITS, name="x.rar"):
            results.append(result)
    except ArchiveError as error:
        assert not has_tool
        assert error.reason is Reason.EXTRACTOR_MISSING
        assert "apt-get install unar" in error.detail
    else:
        assert has_tool
        assert isinstance(results[1], MemberFailure)
        assert results[1].reason is Reason.CORRUPT
    assert results[:1] == [Member("a.png", png(1))]
    assert list(private_tmp.iterdir()) == []


def test_fake_rar_is_corrupt(private_tmp: Path) -> None:
    pytest.importorskip("rarfile")
    _, error = read_until_error(b"Rar!\x1a\x07\x00" + os.urandom(200), name="fake.rar")
    assert error.reason in (Reason.ARCHIVE_CORRUPT, Reason.EXTRACTOR_MISSING)
    assert list(private_tmp.iterdir()) == []
