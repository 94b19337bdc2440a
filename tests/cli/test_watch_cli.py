"""``lookalike watch`` as a person runs it: JSON lines per batch, a clean stop on Ctrl-C, and
killed with SIGKILL in the middle of a batch, restarted, a catalog that matches the folder."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lookalike.cli.main import app

from conftest import encode, photo

pytest.importorskip("watchfiles")

WAIT = 120.0
ENV = {
    "LOOKALIKE_INGEST__BATCH_SIZE": "8",
    "LOOKALIKE_INGEST__WORKERS": "1",
    "LOOKALIKE_WATCH__QUIET_MS": "100",
}


class Running:
    """``lookalike watch FOLDER --json`` in a process of its own, its JSON lines read as they come."""

    def __init__(self, folder: Path, data: Path) -> None:
        command = [sys.executable, "-m", "lookalike", "watch", str(folder), "--data", str(data), "--json"]
        self.process = subprocess.Popen(
            command, env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def next(self, event: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                assert self.process.poll() is None, self.process.stderr.read() if self.process.stderr else ""
                continue
            if line["event"] == event:
                return line
        raise AssertionError(f"no {event} line")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def places(db: Path) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return {str(r[0]) for r in conn.execute("SELECT uri FROM occurrence WHERE status = 'ok'")}


def test_killed_mid_batch_and_restarted_the_catalog_matches_the_folder(tmp_path: Path) -> None:
    folder, data, n = tmp_path / "pics", tmp_path / "data", 400
    folder.mkdir()
    blobs = [encode(photo(seed, (48, 32))) for seed in range(n + 2)]
    db = data / "catalog.sqlite"
    first = Running(folder, data)
    try:
        first.next("catch_up")
        for seed in range(n):
            (folder / f"p{seed:03d}.png").write_bytes(blobs[seed])
        deadline = time.monotonic() + WAIT
        while count(db, "SELECT count(*) FROM occurrence") < n // 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
    finally:
        first.stop()
    done_before = count(db, "SELECT count(*) FROM occurrence")
    assert 0 < done_before < n, "the kill should land part-way through the batch"

    # while nothing watches: one file goes, one changes, one moves, one comes
    (folder / "p000.png").unlink()
    (folder / "p001.png").write_bytes(blobs[n])
    os.rename(folder / "p002.png", folder / "moved.png")
    (folder / "new.png").write_bytes(blobs[n + 1])
    second = Running(folder, data)
    try:
        caught = second.next("catch_up")
        assert caught["removed"] + caught["moved"] >= 1 and caught["failed"] == 0
        expected = {str(p) for p in folder.iterdir()}
        assert places(db) == expected
        assert count(db, "SELECT count(*) FROM occurrence") == len(expected)  # no duplicate places
        assert count(db, "SELECT count(*) FROM image") == len(expected)  # no image left over
        assert count(db, "SELECT count(*) FROM file_state") == len(expected)

        (folder / "new.png").unlink()  # and it goes on watching
        batch = second.next("batch")
        assert batch["removed"] == 1 and places(db) == expected - {str(folder / "new.png")}
        second.process.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
        stopped = second.next("stopped")
        assert stopped["totals"]["removed"] >= 1
        assert second.process.wait(WAIT) == 0
    finally:
        second.stop()


runner = CliRunner()


def test_watch_says_which_folder_is_not_there(tmp_path: Path) -> None:
    result = runner.invoke(app, ["watch", str(tmp_path / "nowhere"), "--data", str(tmp_path / "data")])
    assert result.exit_code == 1 and "no such folder to watch" in result.output


def test_serve_watch_needs_one_server_process(tmp_path: Path) -> None:
    (tmp_path / "pics").mkdir()
    made = runner.invoke(app, ["index", str(tmp_path / "pics"), "--data", str(tmp_path / "data")])
    assert made.exit_code == 0, made.output
    args = ["serve", "--data", str(tmp_path / "data"), "--watch", str(tmp_path / "pics"), "--workers", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--workers 1" in " ".join(result.output.split())
