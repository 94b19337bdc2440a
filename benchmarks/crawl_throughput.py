"""Crawl throughput: ``Collection.crawl`` against a generated art site served on 127.0.0.1.

The site: ``--listings`` paginated listing pages, each linking ``--per-listing``
content pages, each showing ``--per-page`` distinct images (small PNGs, made here
or read from ``--images``), served from memory by a threaded ``http.server`` with
ETags.  Every content page also shows an image and links a page on a second host
(another server on another port), which the crawl's scope must leave alone.
Politeness is off (``crawl.delay=0``, no robots.txt on the site), private
addresses are allowed (the site is on loopback), ingest runs with ``--workers``.

Measured, each on a fresh collection per repeat (median of ``--repeat``):

* **crawl**: the first crawl; pages/s and files/s (wall time of ``crawl``);
* **resume**: the same crawl run again with everything done (what a restart
  costs before it reaches new work: reading the frontier, no requests);
* **recrawl**: ``recrawl=True`` on the unchanged site: every page asked again with
  ``If-None-Match`` (all 304), the files of unchanged pages not asked;
* **recheck**: ``recheck_files=True``: every page and every file asked (all 304), as every
  re-crawl did before;
* out-of-scope requests: what the second host received (the target is none).

Then, with ``--polite-delay`` (seconds, e.g. 1): a small site (``--polite-pages`` content
pages of ``--polite-per-page`` images, and its listing) crawled at that delay, and its
re-crawl timed; ``--polite-recheck`` also times a ``recheck_files`` re-crawl at that delay
(one request per file: slow on purpose).

Example::

    python benchmarks/crawl_throughput.py --listings 10 --per-listing 20 --per-page 4 --repeat 3
    python benchmarks/crawl_throughput.py --repeat 1 --polite-delay 1 --polite-pages 5 --polite-per-page 15
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import image_files, machine, print_machine, print_table, write_json
from PIL import Image

import lookalike


def generated_images(count: int, size: tuple[int, int] = (160, 120)) -> list[bytes]:
    """Distinct small PNGs: smooth random colour fields."""
    found = []
    for seed in range(count):
        rng = np.random.default_rng(seed)
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        found.append(buffer.getvalue())
    return found


def build_site(
    listings: int, per_listing: int, per_page: int, images: list[bytes], other: str | None = None
) -> dict[str, bytes]:
    """The site's routes; ``other``: the base URL of a second host every content page links."""
    routes: dict[str, bytes] = {}
    page_number = image_number = 0
    for listing in range(listings):
        links = []
        for _ in range(per_listing):
            page_number += 1
            shown = []
            for _ in range(per_page):
                routes[f"/img/{image_number}.png"] = images[image_number]
                shown.append(f'<img src="../img/{image_number}.png">')
                image_number += 1
            if other:
                shown.append(
                    f'<img src="{other}/img/{page_number}.png"> <a href="{other}/p/{page_number}.html">x</a>'
                )
            routes[f"/work/{page_number}.html"] = (
                f"<html><head><title>Work {page_number}</title><meta name='author' content='A{page_number}'>"
                f"</head><body>{''.join(shown)}<a rel='tag' href='#t'>art</a></body></html>"
            ).encode()
            links.append(f'<a href="/work/{page_number}.html">work {page_number}</a>')
        if listing + 1 < listings:
            links.append(f'<a href="/list/{listing + 1}.html">next</a>')
        routes[f"/list/{listing}.html"] = f"<html><body>{''.join(links)}</body></html>".encode()
    return routes


def serve(
    routes: dict[str, bytes], latency: float = 0.0, asked: list[str] | None = None
) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``routes`` on 127.0.0.1; every request's path goes to ``asked``."""
    etags = {path: '"' + hashlib.sha1(body).hexdigest()[:16] + '"' for path, body in routes.items()}
    log = asked if asked is not None else []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real server
        disable_nagle_algorithm = True  # else headers and body in two sends cost a 40 ms delayed ACK

        def do_GET(self) -> None:
            log.append(self.path)
            time.sleep(latency)
            body = routes.get(self.path)
            status = 200 if body is not None else 404
            if body is not None and self.headers.get("If-None-Match") == etags[self.path]:
                status, body = 304, b""
            body = body or b""
            self.send_response(status)
            kind = "text/html" if self.path.endswith(".html") else "image/png"
            self.send_header("Content-Type", kind)
            if self.path in etags:
                self.send_header("ETag", etags[self.path])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


RUNS = (("crawl", {}), ("resume", {}), ("recrawl", {"recrawl": True}), ("recheck", {"recheck_files": True}))


def one_run(start: str, workers: int, crawl: dict[str, Any], runs: Any = RUNS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        settings = {
            "fetch": {"allow_networks": ["127.0.0.0/8"]},
            "crawl": {"delay": 0, **crawl},
            "ingest": {"workers": workers},
        }
        with lookalike.open(home, **settings) as collection:
            timings: dict[str, Any] = {}
            for name, options in runs:
                began = time.perf_counter()
                report = collection.crawl([start], **options)
                timings[name] = (time.perf_counter() - began, report)
    return timings


def polite(args: argparse.Namespace, workers: int) -> None:
    """A small site at a real delay: what a re-crawl of an unchanged site costs there."""
    files = args.polite_pages * args.polite_per_page
    asked: list[str] = []
    routes = build_site(1, args.polite_pages, args.polite_per_page, generated_images(files))
    server, base = serve(routes, asked=asked)
    runs: list[tuple[str, dict[str, Any]]] = [("crawl", {}), ("recrawl", {"recrawl": True})]
    if args.polite_recheck:
        runs.append(("recheck", {"recheck_files": True}))
    try:
        timings = one_run(f"{base}/list/0.html", workers, {"delay": args.polite_delay}, runs)
    finally:
        server.shutdown()
    rows = [
        [name, seconds, report.pages, report.files, report.not_modified]
        for name, (seconds, report) in timings.items()
    ]
    print(
        f"polite site: {args.polite_pages + 1} pages, {files} files, crawl.delay={args.polite_delay} s, "
        f"{len(asked)} requests in all"
    )
    print_table(["run", "seconds", "pages", "files", "304s"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listings", type=int, default=5)
    parser.add_argument("--per-listing", type=int, default=20)
    parser.add_argument("--per-page", type=int, default=4)
    parser.add_argument("--images", type=Path, help="Folder of images to serve (default: generated PNGs).")
    parser.add_argument("--workers", type=int, default=1, help="ingest.workers (0: one per core).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0, help="Seconds the server waits per request.")
    parser.add_argument("--concurrency", type=int, default=4, help="crawl.concurrency")
    parser.add_argument("--per-host", type=int, default=2, help="crawl.per_host")
    parser.add_argument("--json", help="Write the figures as JSON to this file ('-': stdout).")
    parser.add_argument("--polite-delay", type=float, help="Also time a small site at this crawl.delay.")
    parser.add_argument("--polite-pages", type=int, default=5, help="Content pages of the polite site.")
    parser.add_argument("--polite-per-page", type=int, default=15, help="Images per page of the polite site.")
    parser.add_argument("--polite-recheck", action="store_true", help="Also time --recheck-files there.")
    args = parser.parse_args()

    needed = args.listings * args.per_listing * args.per_page
    if args.images:
        files = image_files(args.images, limit=needed)
        if len(files) < needed:
            parser.error(f"--images holds {len(files)} images, the site needs {needed}")
        images = [f.read_bytes() for f in files]
    else:
        images = generated_images(needed)
    elsewhere: list[str] = []
    other, other_base = serve({}, asked=elsewhere)  # another host (port): outside the crawl's scope
    site = build_site(args.listings, args.per_listing, args.per_page, images, other_base)
    server, base = serve(site, args.latency)
    crawl = {"concurrency": args.concurrency, "per_host": args.per_host}
    facts = machine()
    print_machine(facts)
    pages = args.listings * (args.per_listing + 1)
    one_run(f"{base}/list/0.html", args.workers, crawl)  # warm-up: imports, FAISS, Pillow plugins
    runs = [one_run(f"{base}/list/0.html", args.workers, crawl) for _ in range(args.repeat)]
    server.shutdown()
    other.shutdown()

    rows, figures = [], {}
    for name, _ in RUNS:
        seconds = statistics.median(run[name][0] for run in runs)
        report = runs[0][name][1]
        figures[name] = {
            "seconds": seconds,
            "pages": report.pages,
            "files": report.files,
            "not_modified": report.not_modified,
            "images_new": report.images_new,
            "requests_per_s": (report.pages + report.files + report.not_modified) / seconds,
        }
        rows.append(
            [
                name,
                seconds,
                report.pages,
                report.files,
                report.not_modified,
                report.images_new,
                figures[name]["requests_per_s"],
            ]
        )
    print(f"site: {pages} pages, {needed} images ({sum(map(len, images)) / 1e6:.1f} MB)")
    print_table(["run", "seconds", "pages", "files", "304s", "new images", "requests/s"], rows)
    first = figures["crawl"]
    figures["out_of_scope_requests"] = len(elsewhere)
    print(
        f"crawl: {pages / first['seconds']:.1f} pages/s, {needed / first['seconds']:.1f} files/s; "
        f"resume skips finished work in {figures['resume']['seconds'] * 1000:.1f} ms; "
        f"re-crawl of the unchanged site {figures['recrawl']['seconds']:.2f} s "
        f"(every file too: {figures['recheck']['seconds']:.2f} s); "
        f"requests to the other host: {len(elsewhere)} (its {args.listings * args.per_listing * 2} links refused)"
    )
    if args.polite_delay is not None:
        polite(args, args.workers)
    if args.json:
        write_json(
            args.json, {"machine": facts, "args": vars(args) | {"images": str(args.images)}, **figures}
        )


if __name__ == "__main__":
    main()
