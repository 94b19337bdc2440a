"""Worker processes never outlive a killed ``lookalike index`` (Linux: reads /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import photo

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = text.rsplit(")", 1)[1].split()[:2]
    return state, int(ppid)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) and st[1] == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"  # a zombie has exited; only its reaper is missing


def test_workers_exit_when_index_is_killed(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(240):
        photo(seed, (400, 300)).save(folder / f"p{seed:03d}.jpg", quality=90)
    env = {**os.environ, "LOOKALIKE_INGEST__WORKERS": "2"}
    run = subprocess.Popen(
        [sys.executable, "-m", "lookalike", "index", str(folder), "--data", str(tmp_path / "data"), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, workers = time.monotonic() + 60, set()
        while not workers and run.poll() is None and time.monotonic() < deadline:
            workers = _children(run.pid)
            time.sleep(0.02)
        assert workers, "the index run finished before it started worker processes"
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "worker processes outlived their parent"
    finally:
        if run.poll() is None:
            run.kill()
