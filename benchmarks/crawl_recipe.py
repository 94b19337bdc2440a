"""Recipe crawl throughput: ``lookalike crawl --recipe`` against a generated JSON shop on 127.0.0.1.

The shop: ``--pages`` API pages of ``--per-page`` products, each product with ``--images``
distinct small PNGs and a title, description, price, tags and link, paged by ``--kind``
(``page`` numbers, ``offset``/limit, or ``next`` links), served from memory by a threaded,
keep-alive ``http.server`` with ETags.  Politeness off (``crawl.delay=0``, no robots.txt),
private addresses allowed (the shop is on loopback), one ingest process by default.

Measured, each on a fresh collection per repeat (median of ``--repeat``):

* **crawl**: the first recipe crawl: API pages/s, items/s and images/s (wall time);
* **again**: the same recipe run again with everything done (nothing is fetched);
* **recrawl**: ``recrawl=True``: every API page and image asked again, all answered 304;
* **changed**: every product's price changed, then ``recrawl=True``: every API page read again
  (200), every image answered 304, and every image indexed before takes its new price.

Example::

    python benchmarks/crawl_recipe.py --pages 10 --per-page 20 --images 2 --repeat 3
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
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
from _common import machine, print_machine, print_table, write_json
from PIL import Image

import lookalike

PAGINATION = {
    "page": ("/api/products?page={page}", '[pagination]\nkind = "page"\nmax_pages = 100000'),
    "offset": (
        "/api/products?offset={offset}&limit={limit}",
        '[pagination]\nkind = "offset"\nlimit = {per_page}\nmax_pages = 100000',
    ),
    "next": ("/api/products", '[pagination]\nkind = "next"\nfield = "next"\nmax_pages = 100000'),
}
FIELDS = """
items = "products"

{pagination}

[fields]
images = "images[*].url"
title = "title"
description = "description"
price = "price.amount"
currency = "price.currency"
tags = "tags"
link = "/p/{{slug}}"
"""


def generated_images(count: int, size: tuple[int, int] = (160, 120)) -> list[bytes]:
    """Distinct small PNGs: smooth random colour fields."""
    found = []
    for seed in range(count):
        rng = np.random.default_rng(10_000 + seed)
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC).save(buffer, "PNG")
        found.append(buffer.getvalue())
    return found


def build_shop(kind: str, pages: int, per_page: int, per_item: int, images: list[bytes]) -> dict[str, bytes]:
    """The API's pages (and the empty one after them) and the images, by request target."""
    routes: dict[str, bytes] = {}
    number = picture = 0
    for page in range(pages + 1):
        products = []
        for _ in range(per_page if page < pages else 0):
            shown = []
            for _ in range(per_item):
                routes[f"/img/{picture}.png"] = images[picture]
                shown.append({"url": f"/img/{picture}.png"})
                picture += 1
            products.append(
                {
                    "title": f"Product {number}",
                    "slug": f"product-{number}",
                    "description": f"<p>Product <b>{number}</b>, made by hand</p>",
                    "price": {"amount": 10 + number % 50, "currency": "EUR"},
                    "tags": f"shop, kind{number % 7}",
                    "images": shown,
                }
            )
            number += 1
        body: dict[str, Any] = {"products": products}
        if kind == "next":
            body["next"] = f"/api/products?after={page + 1}" if page + 1 < pages else None
            target = "/api/products" + (f"?after={page}" if page else "")
        elif kind == "offset":
            target = f"/api/products?offset={page * per_page}&limit={per_page}"
        else:
            target = f"/api/products?page={page + 1}"
        if kind != "next" or page < pages:
            routes[target] = json.dumps(body).encode()
    return routes


def serve(routes: dict[str, bytes]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real server
        disable_nagle_algorithm = True  # else headers and body in two sends cost a 40 ms delayed ACK

        def do_GET(self) -> None:
            body = routes.get(self.path)  # read per request: ``reprice`` changes the API's pages
            status = 200 if body is not None else 404
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"' if body is not None else None
            if etag is not None and self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
            body = body or b""
            self.send_response(status)
            self.send_header(
                "Content-Type", "image/png" if self.path.startswith("/img/") else "application/json"
            )
            if etag is not None:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def reprice(routes: dict[str, bytes]) -> None:
    """Every product's price one more (the API's pages change, their images do not)."""
    for target, body in routes.items():
        if target.startswith("/api/"):
            page = json.loads(body)
            for product in page["products"]:
                product["price"]["amount"] += 1
            routes[target] = json.dumps(page).encode()


def one_run(recipe: Path, workers: int, crawl: dict[str, Any], routes: dict[str, bytes]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        settings = {
            "fetch": {"allow_networks": ["127.0.0.0/8"]},
            "crawl": {"delay": 0, **crawl},
            "ingest": {"workers": workers},
        }
        with lookalike.open(home, **settings) as collection:
            timings: dict[str, Any] = {}
            for name, recrawl in (("crawl", False), ("again", False), ("recrawl", True), ("changed", True)):
                if name == "changed":
                    reprice(routes)
                began = time.perf_counter()
                report = collection.crawl([], recipe=recipe, recrawl=recrawl)
                timings[name] = (time.perf_counter() - began, report)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=sorted(PAGINATION), default="page", help="The API's pagination.")
    parser.add_argument("--pages", type=int, default=10, help="API pages with products.")
    parser.add_argument("--per-page", type=int, default=20, help="Products per API page.")
    parser.add_argument("--images", type=int, default=2, help="Images per product.")
    parser.add_argument("--workers", type=int, default=1, help="ingest.workers (0: one per core).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="crawl.concurrency")
    parser.add_argument("--per-host", type=int, default=2, help="crawl.per_host")
    parser.add_argument("--json", help="Write the figures as JSON to this file ('-': stdout).")
    args = parser.parse_args()

    items = args.pages * args.per_page
    needed = items * args.images
    images = generated_images(needed)
    routes = build_shop(args.kind, args.pages, args.per_page, args.images, images)
    server, base = serve(routes)
    path, pagination = PAGINATION[args.kind]
    crawl = {"concurrency": args.concurrency, "per_host": args.per_host}
    facts = machine()
    print_machine(facts)
    with tempfile.TemporaryDirectory() as folder:
        recipe = Path(folder) / "shop.toml"
        fields = FIELDS.format(pagination=pagination.format(per_page=args.per_page))
        recipe.write_text(f'url = "{base}{path}"\n{fields}', encoding="utf-8")
        one_run(recipe, args.workers, crawl, routes)  # warm-up: imports, FAISS, Pillow plugins
        runs = [one_run(recipe, args.workers, crawl, routes) for _ in range(args.repeat)]
    server.shutdown()

    rows, figures = [], {}
    for name in ("crawl", "again", "recrawl", "changed"):
        seconds = statistics.median(run[name][0] for run in runs)
        report = runs[0][name][1]
        figures[name] = {
            "seconds": seconds,
            "api_pages": report.pages,
            "items": report.items,
            "files": report.files,
            "not_modified": report.not_modified,
            "images_new": report.images_new,
            "places_changed": report.places_changed,
            "requests_per_s": (report.pages + report.files + report.not_modified) / seconds,
        }
        row = [
            name,
            seconds,
            report.pages,
            report.items,
            report.files,
            report.not_modified,
            report.images_new,
            report.places_changed,
        ]
        rows.append([*row, figures[name]["requests_per_s"]])
    api_pages = args.pages + (0 if args.kind == "next" else 1)  # number and offset end on an empty page
    print(f"shop ({args.kind}): {api_pages} API pages, {items} items, {needed} images")
    headers = ["run", "seconds", "API pages", "items", "files", "304s", "new images", "changed"]
    print_table([*headers, "requests/s"], rows)
    first = figures["crawl"]
    print(
        f"crawl: {api_pages / first['seconds']:.1f} API pages/s, {items / first['seconds']:.1f} items/s, "
        f"{needed / first['seconds']:.1f} images/s; a finished recipe run again costs "
        f"{figures['again']['seconds'] * 1000:.1f} ms"
    )
    if args.json:
        write_json(args.json, {"machine": facts, "args": vars(args), **figures})


if __name__ == "__main__":
    main()
