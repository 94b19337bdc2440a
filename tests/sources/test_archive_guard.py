"""The archive guard on its own: every member's checks and the archive-wide limits.

No archive is built: entries are handed to :class:`Guard` as a format would list them,
with a reader that returns the bytes "unpacked".
"""

from __future__ import annotations

import pytest

from lookalike.errors import ArchiveError, Reason
from lookalike.settings import ArchiveSettings
from lookalike.sources.archives import Member, MemberFailure
from lookalike.sources.archives.guard import Entry, Guard, Problem, Reader, clean_name

MIB = 1024 * 1024
UNSAFE = "absolute path, drive letter or '..' in the member name"


def reader(data: bytes, packed: int | None = None) -> Reader:
    def read(cap: int) -> tuple[bytes, int | None]:
        return data[: cap + 1], packed

    return read


def unread(cap: int) -> tuple[bytes, int | None]:
    raise AssertionError("the guard read a member it should have refused")


def guard(**limits: int | float) -> Guard:
    return Guard(ArchiveSettings(**limits), "test.zip")


def limit(key: str, value: object) -> str:
    return f"archive.{key}={value} (raise it with LOOKALIKE_ARCHIVE__{key.upper()})"


def test_a_clean_member_is_read_under_its_normalised_name() -> None:
    result = guard().emit(Entry("./sprites//hero.png", "file", 3, 3), reader(b"png", 3))
    assert result == Member("sprites/hero.png", b"png")


@pytest.mark.parametrize(
    "name",
    ["../evil.png", "sprites/../../evil.png", "..", "sprites\\..\\..\\evil.png"],
)
def test_a_name_that_climbs_out_is_unsafe(name: str) -> None:
    result = guard().emit(Entry(name, "file", 3, 3), unread)
    assert result == MemberFailure(name, Reason.UNSAFE_PATH, UNSAFE)


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "\\windows\\evil.png", "C:/evil.png", "c:evil.png", "a\0b.png"]
)
def test_an_absolute_name_or_drive_is_unsafe(name: str) -> None:
    result = guard().emit(Entry(name, "file", 3, 3), unread)
    assert result == MemberFailure(name, Reason.UNSAFE_PATH, UNSAFE)


def test_a_link_is_unsafe_under_its_clean_name() -> None:
    result = guard().emit(Entry("./art/link.png", "link", 0, 0), unread)
    assert result == MemberFailure(
        "art/link.png", Reason.UNSAFE_PATH, "member is a link; links are not followed"
    )


def test_directories_are_skipped_silently() -> None:
    checks = guard()
    assert checks.emit(Entry("../anything", "dir", 0, 0), unread) is None
    assert checks.entries == 1  # but they count as entries


def test_devices_and_fifos_are_recorded_not_read() -> None:
    checks = guard()
    result = checks.emit(Entry("dev/null", "other", 0, 0), unread)
    assert result == MemberFailure(
        "dev/null", Reason.NOT_A_FILE, "member is a device or a FIFO, not a file; it is not read"
    )
    unsafe = checks.emit(Entry("../dev/sda", "other", 0, 0), unread)
    assert isinstance(unsafe, MemberFailure) and unsafe.reason is Reason.UNSAFE_PATH
    assert checks.entries == 2


def test_a_too_high_declared_ratio_is_a_bomb() -> None:
    result = guard(max_ratio=200.0).emit(Entry("bomb.png", "file", 2 * MIB, 1000), unread)
    detail = f"unpacks 1000 bytes to {2 * MIB} (ratio 2097), passes {limit('max_ratio', 200.0)}"
    assert result == MemberFailure("bomb.png", Reason.ARCHIVE_BOMB, detail)


def test_a_too_high_ratio_of_what_was_read_is_a_bomb() -> None:
    """A header that lies about the size: the bytes actually read are checked again."""
    entry = Entry("liar.png", "file", 10, None)
    result = guard(max_ratio=100.0).emit(entry, reader(b"\0" * (2 * MIB), 10_000))
    detail = f"unpacks 10000 bytes to {2 * MIB} (ratio 210), passes {limit('max_ratio', 100.0)}"
    assert result == MemberFailure("liar.png", Reason.ARCHIVE_BOMB, detail)


def test_a_high_ratio_under_one_mib_is_allowed() -> None:
    result = guard(max_ratio=2.0).emit(Entry("small.png", "file", MIB, 1), reader(b"\0" * MIB, 1))
    assert result == Member("small.png", b"\0" * MIB)


def test_a_ratio_is_only_checked_where_the_format_tells_the_packed_size() -> None:
    result = guard(max_ratio=2.0).emit(Entry("tar.png", "file", 2 * MIB, None), reader(b"\0" * (2 * MIB)))
    assert isinstance(result, Member)


def test_a_member_larger_than_the_limit_is_too_large() -> None:
    result = guard(max_member_bytes=100).emit(Entry("big.png", "file", 101, 101), unread)
    detail = f"unpacks to 101 bytes, passes {limit('max_member_bytes', 100)}"
    assert result == MemberFailure("big.png", Reason.TOO_LARGE, detail)


def test_a_member_that_reads_larger_than_declared_is_too_large() -> None:
    result = guard(max_member_bytes=100).emit(Entry("liar.png", "file", 5, 5), reader(b"x" * 500, 5))
    detail = f"unpacks to 101 bytes, passes {limit('max_member_bytes', 100)}"  # read with a cap
    assert result == MemberFailure("liar.png", Reason.TOO_LARGE, detail)


def test_too_many_members_end_the_archive() -> None:
    checks = guard(max_members=2)
    for n in range(2):
        assert checks.emit(Entry(f"{n}.png", "file", 1, 1), reader(b"x", 1)) == Member(f"{n}.png", b"x")
    with pytest.raises(ArchiveError) as caught:
        checks.emit(Entry("2.png", "file", 1, 1), unread)
    assert caught.value.reason is Reason.ARCHIVE_LIMIT
    assert caught.value.detail == f"archive has more entries than {limit('max_members', 2)}"
    assert caught.value.uri == "test.zip"


def test_directories_count_toward_the_member_limit() -> None:
    checks = guard(max_members=1)
    assert checks.emit(Entry("art/", "dir", 0, 0), unread) is None
    with pytest.raises(ArchiveError) as caught:
        checks.emit(Entry("art/a.png", "file", 1, 1), unread)
    assert caught.value.reason is Reason.ARCHIVE_LIMIT


def test_a_declared_total_past_the_limit_ends_the_archive_before_reading() -> None:
    checks = guard(max_total_bytes=100)
    assert checks.emit(Entry("a.png", "file", 60, 60), reader(b"a" * 60, 60)) == Member("a.png", b"a" * 60)
    with pytest.raises(ArchiveError) as caught:
        checks.emit(Entry("b.png", "file", 60, 60), unread)
    assert caught.value.reason is Reason.ARCHIVE_BOMB
    assert caught.value.detail == f"unpacked size passes {limit('max_total_bytes', 100)}"
    assert checks.total == 60


def test_a_total_read_past_the_limit_ends_the_archive() -> None:
    checks = guard(max_total_bytes=100)
    checks.emit(Entry("a.png", "file", 60, 60), reader(b"a" * 60, 60))
    with pytest.raises(ArchiveError) as caught:
        checks.emit(Entry("b.png", "file", 10, 10), reader(b"b" * 60, 10))  # the header lied
    assert caught.value.reason is Reason.ARCHIVE_BOMB
    assert caught.value.detail == f"unpacked size passes {limit('max_total_bytes', 100)}"


def test_bytes_unpacked_to_skip_a_member_count_toward_the_total() -> None:
    checks = guard(max_total_bytes=100)
    assert checks.emit(Entry("../skipped.png", "file", 80, None), unread, skip_cost=80) is not None
    assert checks.total == 0  # counted from the next entry
    with pytest.raises(ArchiveError) as caught:
        checks.emit(Entry("next.png", "file", 30, None), unread)
    assert caught.value.reason is Reason.ARCHIVE_BOMB


def test_a_member_the_reader_cannot_read_is_a_failure_and_the_archive_goes_on() -> None:
    def broken(cap: int) -> tuple[bytes, int | None]:
        raise Problem(Reason.CORRUPT, "cannot unpack member: bad crc")

    checks = guard()
    assert checks.emit(Entry("bad.png", "file", 3, 3), broken) == MemberFailure(
        "bad.png", Reason.CORRUPT, "cannot unpack member: bad crc"
    )
    assert checks.emit(Entry("good.png", "file", 3, 3), reader(b"png", 3)) == Member("good.png", b"png")


def test_archive_errors_name_the_archive() -> None:
    error = guard().corrupt(EOFError())
    assert (error.reason, error.detail, error.uri) == (
        Reason.ARCHIVE_CORRUPT,
        "archive is corrupt or truncated: EOFError",
        "test.zip",
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a/b.png", "a/b.png"),
        ("./a//./b.png", "a/b.png"),
        ("a\\b.png", "a/b.png"),
        ("a/b/../c.png", None),  # no '..' at all, even one that stays inside
        ("", None),
        ("./", None),
        ("/a.png", None),
        ("D:\\a.png", None),
    ],
)
def test_clean_name(raw: str, clean: str | None) -> None:
    assert clean_name(raw) == clean
