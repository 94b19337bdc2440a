"""Explore map: build time (``lookalike map``) at several sizes, an update, and the /map page's load time.

    nice -n 10 python benchmarks/map.py --sizes 10000 100000 --page
    nice -n 10 python benchmarks/map.py --sizes 0 --real ../shared/data/photos_flickr --page --shots /tmp/shots

Synthetic images (``--sizes``): features and thumbnails are recorded through the catalog, no
file is decoded.  Each image belongs to one of 200 clusters: its colour histogram is drawn
around its cluster's, its phash is its cluster's with 10% of the bits flipped, and its
thumbnail is a real 240 px JPEG (one of 400 generated pictures, stored under each image's own
hash, so every cell decodes a thumbnail as with real images).  ``--real DIR`` indexes real
files first (timed apart) and maps them.

For each collection: a full build with ``map.method`` (auto unless ``--method``), split into
reading features, the layout (PCA, t-SNE or UMAP, snapping to the grid) and the tiles; then an
update after adding 1% more images.  ``--page``: the /map page in Chromium (Debian's
/usr/lib/chromium/chromium), from navigation start to every visible tile drawn, in a new
browser context each time (nothing cached) and reloaded (tiles cached): median of 5.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_machine, write_json

import lookalike
from lookalike.records import Extracted, Provenance
from lookalike.usecases import explore

CLUSTERS = 200
PICTURES = 400
CHROMIUM = "/usr/lib/chromium/chromium"


def pictures(seed: int = 3) -> list[bytes]:
    """Thumbnail JPEGs (240x180): a gradient in a cluster-like colour with a few blobs."""
    rng = np.random.default_rng(seed)
    found = []
    yy, xx = np.mgrid[0:180, 0:240]
    for _ in range(PICTURES):
        base = rng.integers(0, 256, 3)
        tilt = rng.normal(size=3) * 60
        rgb = base[None, None, :] + tilt[None, None, :] * (xx[..., None] / 240 - 0.5)
        for _ in range(3):
            cx, cy, r = rng.integers(0, 240), rng.integers(0, 180), rng.integers(10, 50)
            rgb[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.integers(0, 256, 3)
        out = io.BytesIO()
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=80)
        found.append(out.getvalue())
    return found


def grow(collection: lookalike.Collection, count: int, start: int, seed: int = 7, batch: int = 5000) -> None:
    """Add ``count`` synthetic images (numbered from ``start``) with phash and colour features and a thumbnail."""
    rng = np.random.default_rng(seed + start)
    phash, colour = collection.signals["phash"], collection.signals["colour"]
    hash_rows = 2 if phash.decode(b"\0" * (2 * phash.spec.row_width)).shape[0] == 2 else 1
    centre_rng = np.random.default_rng(seed)  # the same clusters for every call
    hashes = centre_rng.integers(0, 2, (CLUSTERS, phash.spec.dim), dtype=np.uint8)
    palettes = centre_rng.dirichlet(np.full(colour.spec.dim, 0.2), CLUSTERS)
    thumbs = pictures()
    for first in range(start, start + count, batch):
        rows, shots = [], []
        for number in range(first, min(start + count, first + batch)):
            k = int(rng.integers(CLUSTERS))
            bits = hashes[k] ^ (rng.random(phash.spec.dim) < 0.1).astype(np.uint8)
            code = np.tile(np.packbits(bits)[None, :], (hash_rows, 1))
            shares = rng.dirichlet(palettes[k] * 200 + 0.01)
            hist = np.round(np.sqrt(shares) * 255.0).astype(np.uint8)[None, :]
            features = {
                "phash": (phash.spec.version, phash.encode(code)),
                "colour": (colour.spec.version, colour.encode(hist)),
            }
            sha = hashlib.sha256(f"map-bench-{number}".encode()).hexdigest()
            rows.append(
                (
                    Provenance(f"synthetic://{number}.jpg"),
                    Extracted(sha, 50_000, 800, 600, "JPEG", "RGB", features),
                )
            )
            shots.append((sha, thumbs[(2 * k + number % 2) % PICTURES]))  # a cluster looks alike
        collection.catalog.images.record(rows, None)
        collection.thumbs.put(shots)


def timed_build(collection: lookalike.Collection, rebuild: bool = False) -> dict[str, Any]:
    marks: dict[str, float] = {}
    started = time.perf_counter()

    def progress(event: str, amount: int) -> None:
        if event in ("features", "layout", "tiles_total"):
            marks[event] = time.perf_counter() - started

    report = explore.build(collection.app, rebuild=rebuild, progress=progress)
    total = time.perf_counter() - started
    return {
        **report.as_dict(),
        "read_s": round(marks["features"], 2),
        "layout_s": round(marks["layout"] - marks["features"], 2),
        "tiles_s": round(total - marks["tiles_total"], 2),
        "total_s": round(total, 2),
    }


@contextmanager
def served(collection: lookalike.Collection) -> Iterator[str]:
    import uvicorn

    from lookalike.api import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(collection), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def page_load(url: str, loads: int = 5, shot: Path | None = None) -> dict[str, float]:
    """Median ms from navigation start to every visible tile of /map drawn: cold and reloaded."""
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    cold, warm = [], []
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=args)
        for n in range(loads):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            for times in (cold, warm):
                if times is cold:
                    page.goto(f"{url}/map")
                else:
                    page.reload()
                page.wait_for_selector(".map-view canvas[data-ready='1']", timeout=30_000)
                times.append(page.evaluate("performance.getEntriesByName('map-ready')[0].startTime"))
            if shot and n == 0:
                page.screenshot(path=str(shot))
            context.close()
        browser.close()
    return {"cold_ms": round(statistics.median(cold), 1), "warm_ms": round(statistics.median(warm), 1)}


def run(
    collection: lookalike.Collection, label: str, add: int | None, page: bool, shots: Path | None
) -> dict[str, Any]:
    built = timed_build(collection, rebuild=True)
    print(
        f"{label}: {built['images']:,} images, {built['cols']}x{built['rows']} grid, {built['method']}:"
        f" read {built['read_s']} s, layout {built['layout_s']} s, {built['tiles']:,} tiles"
        f" {built['tiles_s']} s, total {built['total_s']} s",
        flush=True,
    )
    found: dict[str, Any] = {"build": built}
    if add:
        grow(collection, add, start=10_000_000)
        update = timed_build(collection)
        found["update"] = update
        print(
            f"{label}: update +{update['added']:,} images: {update['tiles_written']:,} tiles redrawn,"
            f" total {update['total_s']} s",
            flush=True,
        )
    if page:
        with served(collection) as url:
            shot = (shots / f"map-{label}.png") if shots else None
            found["page"] = page_load(url, shot=shot)
        print(
            f"{label}: /map loads in {found['page']['cold_ms']} ms (cold), {found['page']['warm_ms']} ms (reload)",
            flush=True,
        )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000], help="Synthetic collection sizes [10000]."
    )
    parser.add_argument(
        "--real", type=Path, nargs="*", default=[], help="Folders of real images to index and map."
    )
    parser.add_argument("--method", default="auto", help="map.method: auto, tsne, umap or pca [auto].")
    parser.add_argument("--page", action="store_true", help="Also time the /map page in Chromium.")
    parser.add_argument("--shots", type=Path, help="Folder for a screenshot of each map.")
    parser.add_argument("--json", metavar="PATH", help="Also write the figures as JSON ('-' for stdout).")
    options = parser.parse_args()
    facts = machine()
    print_machine(facts)
    if options.shots:
        options.shots.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": facts, "method": options.method, "runs": {}}
    settings = {"ingest": {"workers": 2}, "map": {"method": options.method}}
    with tempfile.TemporaryDirectory(prefix="map-bench-") as scratch:
        for size in [s for s in options.sizes if s > 0]:
            with lookalike.open(Path(scratch) / f"s{size}", **settings) as collection:
                started = time.perf_counter()
                grow(collection, size, start=0)
                print(f"{size:,}: synthesised in {time.perf_counter() - started:.1f} s", flush=True)
                results["runs"][str(size)] = run(
                    collection, f"{size}", max(1, size // 100), options.page, options.shots
                )
        if options.real:
            with lookalike.open(Path(scratch) / "real", **settings) as collection:
                started = time.perf_counter()
                report = collection.index(options.real)
                print(
                    f"real: indexed {report.images_new} images in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
                results["runs"]["real"] = run(collection, "real", None, options.page, options.shots)
    if options.json:
        write_json(options.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
