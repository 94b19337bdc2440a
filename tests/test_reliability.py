"""Hostile input beside good images, and kills at random points: nothing stops a run, nothing is lost.

The corpus is made here: truncated and byte-flipped JPEG, PNG, GIF and WebP, a forged
decompression bomb, a zip bomb with a path-traversal member, archives nested past
``archive.max_depth``, a FIFO, a file name that is not UTF-8, a symbolic link loop and a
dangling link.  Every entry must be accounted for (indexed, or recorded with a reason), and
nothing may be written outside the data folder.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

import lookalike

from conftest import encode, photo, zip_of

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symbolic links")

GOOD = 24


def _flipped(data: bytes, seed: int) -> bytes:
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(12):
        at = rng.randrange(len(out) // 4, len(out))
        out[at] ^= 0xFF
    return bytes(out)


def _forged_bomb() -> bytes:
    """A tiny PNG whose header claims 40,000 x 40,000 pixels."""
    small = encode(Image.new("L", (8, 8)), "PNG")
    ihdr = b"IHDR" + (40_000).to_bytes(4, "big") * 2 + small[24:29]
    return small[:12] + ihdr + zlib.crc32(ihdr).to_bytes(4, "big") + small[33:]


def hostile_corpus(root: Path) -> tuple[Path, int]:
    """A folder of good and hostile entries; returns it and the number of good images in it."""
    folder = root / "corpus"
    folder.mkdir()
    for seed in range(GOOD):
        photo(seed, (120, 90)).save(folder / f"good{seed:02d}.{'png' if seed % 2 else 'jpg'}")
    for n, fmt in enumerate(["JPEG", "PNG", "GIF", "WEBP"]):
        data = encode(photo(100 + n, (120, 90)).convert("RGB"), fmt)
        (folder / f"truncated.{fmt.lower()}").write_bytes(data[: len(data) // 3])
        (folder / f"flipped.{fmt.lower()}").write_bytes(_flipped(data, n))
    (folder / "bomb.png").write_bytes(_forged_bomb())
    traversal = zip_of({"../../escaped.png": encode(photo(200, (32, 32))), "zeros.png": bytes(40 << 20)})
    (folder / "zipbomb.zip").write_bytes(traversal)
    nested = encode(photo(201, (32, 32)))
    for depth in range(4):
        nested = zip_of({f"level{depth}.zip" if depth else "deep.png": nested})
    (folder / "nested.zip").write_bytes(nested)
    os.mkfifo(folder / "pipe.jpg")
    with open(os.fsencode(folder) + b"/caf\xe9-latin1.png", "wb") as fh:
        fh.write(encode(photo(202, (120, 90))))
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "dangling.png").symlink_to(folder / "gone.png")
    (folder / "empty.jpg").write_bytes(b"")
    return folder, GOOD + 1  # the latin-1 name is a good image too


def _tree(root: Path, leave_out: Path) -> dict[str, tuple[int, float]]:
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != leave_out]
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            found[os.path.join(folder, name)] = (st.st_size, st.st_mtime)
    return found


def test_every_entry_of_a_hostile_corpus_is_accounted_for(tmp_path: Path) -> None:
    folder, good = hostile_corpus(tmp_path)
    data = tmp_path / "data"
    before = _tree(tmp_path, data)
    with lookalike.open(data, ingest={"workers": 2}) as collection:
        report = collection.index([folder])
        entries = sorted(os.listdir(os.fsencode(folder)))
        assert report.files == len(entries)
        places = collection.catalog.images.occurrences(collection.catalog.images.ok_ids())
        indexed = [o.uri for found in places.values() for o in found]
        failed = collection.catalog.images.failures(limit=10_000)
        stats = collection.stats()
        assert stats["occurrences"] + stats["failed"] == len(indexed) + len(failed)
        assert sum(stats["failures_by_reason"].values()) == len(failed) == report.failed
        recorded = [*indexed, *(f["uri"] for f in failed)]
        for name in entries:
            text = lookalike.sources.files.path_text(
                os.path.join(os.fsencode(folder), name).decode(errors="surrogateescape")
            )
            assert any(uri == text or uri.startswith(text + "!/") for uri in recorded), (
                f"{name!r} left no record"
            )
        reasons = {Path(f["uri"]).name: f["reason"] for f in failed}
        assert reasons["bomb.png"] == "too_many_pixels" and reasons["pipe.jpg"] == "not_a_file"
        assert reasons["loop.png"] == reasons["dangling.png"] == "broken_link"
        assert reasons["empty.jpg"] == "empty" and "archive_too_deep" in reasons.values()
        assert {reasons[f"truncated.{x}"] for x in ("jpeg", "png", "gif", "webp")} <= {"corrupt"}
        assert any(f["reason"] == "unsafe_path" for f in failed)
        assert any(f["reason"] == "archive_bomb" for f in failed)
        goods = [u for u in indexed if Path(u).name.startswith(("good", "caf"))]
        assert len(goods) == good
        for seed in (0, 7, 13):
            [best] = collection.search(next(folder.glob(f"good{seed:02d}.*")), k=1)
            assert Path(best.location).name.startswith(f"good{seed:02d}")
    after = _tree(tmp_path, data)
    assert after == before, "something was written outside the data folder"
    assert not (tmp_path / "escaped.png").exists()


# ---- kills at random points -----------------------------------------------------------------


def _count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_index_killed_at_random_points_loses_nothing_and_leaves_no_processes(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    n = 600
    for seed in range(n):
        photo(seed, (160, 120)).save(folder / f"p{seed:04d}.jpg", quality=85)
    data = tmp_path / "data"
    db = data / "catalog.sqlite"
    env = {**os.environ, "LOOKALIKE_INGEST__BATCH_SIZE": "128", "LOOKALIKE_INGEST__WORKERS": "2"}
    command = [sys.executable, "-m", "lookalike", "index", str(folder), "--data", str(data), "--json"]
    targets = sorted(random.Random(21).sample(range(16, n - 160), 5))  # occurrences committed at each kill
    workers: set[int] = set()
    for target in targets:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _count(db, "SELECT count(*) FROM occurrence") < target and time.monotonic() < deadline:
            workers |= _children(process.pid)
            time.sleep(0.005)
        workers |= _children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        done = _count(db, "SELECT count(*) FROM occurrence")
        assert target <= done < n, "the kill should land part-way through"
        assert _count(db, "SELECT count(*) - count(DISTINCT uri) FROM occurrence") == 0
    assert workers, "the runs should have started worker processes"
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    with lookalike.open(data) as collection:
        stats = collection.stats()
        assert stats["images"] == n and stats["occurrences"] == n and stats["failed"] == 0
        assert stats["indexes"]["phash"]["vectors"] == n
    assert _count(db, "SELECT count(*) - count(DISTINCT sha256) FROM image") == 0
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "worker processes outlived a killed index run"
