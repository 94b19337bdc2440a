"""Object storage: listing and indexing a bucket on a local S3-protocol server (moto's server mode).

A bucket on ``127.0.0.1`` gets ``--images`` distinct small JPEGs and ``--others`` objects that
are not images (listed, never downloaded).  Measured on a fresh collection (one ingest process):

* **list**: ``ObjectSource.listing`` of the prefix: every page of the listing (objects/s);
* **index**: the first ``index s3://bucket/prefix`` (objects and images/s: list, download, decode,
  signals, commit);
* **re-index**: the same again with nothing changed (objects/s: the listing and the size/ETag
  check; nothing is downloaded);
* **after changes**: ``--changed`` objects replaced with new content and as many deleted.

Needs ``pip install 'lookalike[s3]' 'moto[server]'``.  Example::

    nice -n 10 python benchmarks/s3.py --images 400 --others 2000
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import s3fs
from _common import machine, print_machine, print_table, write_json
from moto.server import ThreadedMotoServer
from PIL import Image

import lookalike
from lookalike.settings import load_settings
from lookalike.sources.objects import ObjectSource


def jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    image = Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class Downloads(logging.Handler):
    """Counts the server's answers to object downloads (GET of a key), from its request log."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.count += '"GET /bench/p/' in message and "list-type" not in message


def timed(run: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=400, help="image objects (JPEG, 320x240)")
    parser.add_argument("--others", type=int, default=2000, help="objects that are not images")
    parser.add_argument("--changed", type=int, default=20, help="objects replaced, and as many deleted")
    parser.add_argument("--concurrency", type=int, default=16, help="storage.concurrency")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        rows, facts = run(endpoint, args)
    finally:
        server.stop()
    print_machine(machine())
    print(facts)
    headers = ["run", "seconds", "objects", "objects/s", "new images", "images/s", "downloads"]
    print_table(headers, rows, markdown=True)
    if args.json:
        write_json(args.json, {"machine": machine(), "facts": facts, "rows": rows})


def run(endpoint: str, args: argparse.Namespace) -> tuple[list[list[Any]], str]:
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    fs.mkdir("bench")
    images = {f"bench/p/img{i:05d}.jpg": jpeg(i) for i in range(args.images)}
    fs.pipe(images)
    fs.pipe({f"bench/p/other/{i:05d}.json": b"{}" for i in range(args.others)})
    total = args.images + args.others
    facts = (
        f"{args.images} JPEGs ({sum(map(len, images.values())) / 1e6:.1f} MB) and {args.others} other objects"
    )
    storage = {"endpoint_url": endpoint, "concurrency": args.concurrency}
    settings = load_settings(storage=storage)
    rows: list[list[Any]] = []
    downloads = Downloads()
    server_log = logging.getLogger("werkzeug")
    server_log.addHandler(downloads)
    server_log.propagate = False
    seconds, listing = timed(lambda: ObjectSource().listing("s3://bench/p", settings))
    rows.append(["list", seconds, len(listing.entries), len(listing.entries) / seconds, "-", "-", 0])
    with (
        tempfile.TemporaryDirectory() as home,
        lookalike.open(Path(home) / "data", ingest={"workers": 1}, storage=storage) as collection,
    ):
        for name in ("index", "re-index (unchanged)"):
            downloads.count = 0
            seconds, report = timed(lambda: collection.index(["s3://bench/p"]))
            new = report.images_new
            per_second = new / seconds if new else "-"
            rows.append(
                [name, seconds, report.files, report.files / seconds, new, per_second, downloads.count]
            )
        for i in range(args.changed):
            fs.pipe_file(f"bench/p/img{i:05d}.jpg", jpeg(100_000 + i))
            fs.rm_file(f"bench/p/img{args.images - 1 - i:05d}.jpg")
        downloads.count = 0
        seconds, report = timed(lambda: collection.index(["s3://bench/p"]))
        new = report.images_new
        rows.append(
            ["after changes", seconds, report.files, report.files / seconds, new, "-", downloads.count]
        )
    assert rows[1][2] == total and rows[2][4] == 0 and rows[2][6] == 0
    return rows, facts


if __name__ == "__main__":
    main()
