"""Kill indexing with SIGKILL part-way, run it again: everything indexed once, nothing lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import lookalike

from conftest import photo

N = 500


def count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_killed_index_resumes_without_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for seed in range(N):
        photo(seed, (48, 32)).save(folder / f"p{seed:04d}.png")
    (folder / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    data = tmp_path / "data"
    env = {**os.environ, "LOOKALIKE_INGEST__BATCH_SIZE": "8", "LOOKALIKE_INGEST__WORKERS": "1"}
    command = [sys.executable, "-m", "lookalike", "index", str(folder), "--data", str(data), "--json"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = data / "catalog.sqlite"
    deadline = time.monotonic() + 60
    while count(db, "SELECT count(*) FROM occurrence") < N // 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = count(db, "SELECT count(*) FROM occurrence")
    assert 0 < done_before < N, "the kill should land part-way through"

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    with lookalike.open(data) as collection:
        stats = collection.stats()
        assert stats["images"] == N and stats["occurrences"] == N
        assert stats["failures_by_reason"] == {"corrupt": 1}
        assert count(db, "SELECT count(DISTINCT sha256) FROM image") == N + 1
        assert stats["indexes"]["phash"]["vectors"] == N
        assert collection.search(folder / "p0123.png", k=1)[0].location.endswith("p0123.png")
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert '"unchanged": 501' in again.stdout
