"""A watched folder: how soon a file written into it is searchable, and how fast a burst is absorbed.

``lookalike watch FOLDER --json`` runs in a process of its own (``nice``d), as a person runs it;
this script writes files into the folder and looks at the collection from outside:

* **latency**: one new photo at a time (``--files``, 640x480 JPEG), from just before it is
  written until ``Collection.search`` with that file ranks it first (the searcher catches up
  from the catalog, as ``lookalike search`` and the web service do); p50, p90 and max;
* **burst**: ``--burst`` small PNGs copied in at once (``shutil.copy`` from a folder beside it,
  as ``cp`` does), from the first copy until every one is in the catalog; files per second and
  how many batches the watcher made of them (its JSON lines).

Example::

    nice python benchmarks/watch.py --files 20 --burst 1000
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, percentile, print_machine

import lookalike


def picture(seed: int, size: tuple[int, int]) -> Image.Image:
    """A smooth random picture (blobs of colour), different for every seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def count(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return int(conn.execute("SELECT count(*) FROM occurrence WHERE status = 'ok'").fetchone()[0])


class Watching:
    """The watcher process and its JSON lines."""

    def __init__(self, folder: Path, data: Path, env: dict[str, str]) -> None:
        command = [
            "nice",
            "-n",
            "10",
            sys.executable,
            "-m",
            "lookalike",
            "watch",
            str(folder),
            "--data",
            str(data),
            "--json",
        ]
        self.process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def drain(self) -> list[dict[str, Any]]:
        found = []
        while not self.lines.empty():
            found.append(self.lines.get())
        return found

    def wait_for(self, event: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line["event"] == event:
                return line
        raise SystemExit(f"the watcher printed no {event} line")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def latency(folder: Path, data: Path, n: int) -> list[float]:
    seconds = []
    with lookalike.open(data, create=False) as collection:
        for i in range(n):
            path = folder / f"new{i:03d}.jpg"
            image = picture(1000 + i, (640, 480))
            started = time.perf_counter()
            image.save(path, quality=90)
            while True:
                results = collection.search(path, k=1)
                if results and results[0].location == str(path.resolve()):
                    break
                if time.perf_counter() - started > 60:
                    raise SystemExit(f"{path} was not searchable after 60 s")
                time.sleep(0.005)
            seconds.append(time.perf_counter() - started)
            time.sleep(0.5)  # one file at a time: each its own batch
    return seconds


def burst(folder: Path, staging: Path, data: Path, n: int, watcher: Watching) -> dict[str, Any]:
    staging.mkdir()
    for i in range(n):
        picture(5000 + i, (64, 48)).save(staging / f"b{i:04d}.png")
    before = count(data / "catalog.sqlite")
    watcher.drain()
    started = time.perf_counter()
    target = folder / "burst"
    target.mkdir()
    for path in sorted(staging.iterdir()):
        shutil.copy(path, target / path.name)
    copied = time.perf_counter() - started
    while count(data / "catalog.sqlite") < before + n:
        if time.perf_counter() - started > 600:
            raise SystemExit("the burst was not absorbed in 600 s")
        time.sleep(0.01)
    absorbed = time.perf_counter() - started
    time.sleep(1.0)
    batches = [line for line in watcher.drain() if line["event"] == "batch" and line["added"]]
    return {
        "files": n,
        "copy_s": copied,
        "absorbed_s": absorbed,
        "files_per_s": n / absorbed,
        "batches": [b["added"] for b in batches],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20, help="files written one at a time (latency)")
    parser.add_argument("--burst", type=int, default=1000, help="files copied in at once")
    parser.add_argument("--workers", default="", help="ingest.workers of the watcher [default: its default]")
    args = parser.parse_args()
    env = {"LOOKALIKE_INGEST__WORKERS": args.workers} if args.workers else {}
    print_machine(machine())
    with tempfile.TemporaryDirectory() as tmp:
        folder, data = Path(tmp) / "watched", Path(tmp) / "data"
        folder.mkdir()
        picture(1, (640, 480)).save(folder / "first.jpg")
        watcher = Watching(folder, data, env)
        try:
            caught = watcher.wait_for("catch_up")
            print(f"catch-up: {caught['added']} file in {caught['seconds'] * 1000:.0f} ms")
            seconds = latency(folder, data, args.files)
            ms = [s * 1000 for s in seconds]
            print(
                f"latency, written -> searchable ({len(ms)} files, 640x480 JPEG): p50 {percentile(ms, 50):.0f} ms, "
                f"p90 {percentile(ms, 90):.0f} ms, max {max(ms):.0f} ms"
            )
            done = burst(folder, Path(tmp) / "staging", data, args.burst, watcher)
            print(
                f"burst of {done['files']} PNGs (64x48): copied in {done['copy_s']:.2f} s, all in the catalog after "
                f"{done['absorbed_s']:.1f} s ({done['files_per_s']:.0f} files/s) in {len(done['batches'])} batches "
                f"{done['batches']}"
            )
        finally:
            watcher.stop()


if __name__ == "__main__":
    main()
