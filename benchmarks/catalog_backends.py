"""The catalog on SQLite (the baseline) and on PostgreSQL, side by side, on the same images.

What is measured, for each backend, on a fresh collection:

* **ingest**: ``Collection.index(files)`` wall time (decode, phash + colour, catalog
  writes, FAISS update), images/s; ``--workers 1`` runs in-process.
* **queue**: the same files queued (``enqueue``) and indexed by one in-process
  ``Worker`` (claims, leases, heartbeats), images/s; the cost of the job queue.
* **search by image** and **keyword search** latency (p50 / p99 ms, one at a time),
  which read the catalog for every result (features, places, thumbnails).
* **bytes per image**: catalog size / images (SQLite: the file; PostgreSQL: every
  table with its indexes and TOAST, from ``pg_total_relation_size``), split into
  thumbnails and the rest (thumbnails live in thumbs.sqlite beside a SQLite catalog).

PostgreSQL runs on this machine (loopback), so network latency to a database
server on another machine is not included.

Example::

    python benchmarks/catalog_backends.py --images ../shared/data/photos_flickr/images --limit 500 \\
        --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import image_files, machine, print_machine, print_table, summary_ms, warm_cache, write_json

import lookalike
from lookalike.usecases.worker import Worker


def _database(server: str) -> tuple[str, str]:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return server.rsplit("/", 1)[0] + "/" + name, name


def _drop(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _sizes(collection: lookalike.Collection) -> tuple[int, int]:
    """(catalog bytes without thumbnails, thumbnail bytes)."""
    if collection.catalog.shared:
        rows = collection.catalog._all(  # a benchmark may look inside
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        sizes = {str(name): int(size) for name, size in rows}
        return sum(sizes.values()) - sizes.get("thumbnail", 0), sizes.get("thumbnail", 0)
    home = collection.home
    thumbs = sum(p.stat().st_size for p in home.glob("thumbs.sqlite*"))
    return sum(p.stat().st_size for p in home.glob("catalog.sqlite*")), thumbs


def run(
    backend: str,
    catalog: str,
    files: list[Path],
    queries: list[Path],
    words: list[str],
    workers: int,
    metadata: Path | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": backend}
    with (
        tempfile.TemporaryDirectory() as home,
        lookalike.open(home, catalog=catalog, ingest={"workers": workers}) as collection,
    ):
        started = time.perf_counter()
        report = collection.index(files, metadata=metadata)
        out["ingest_s"] = time.perf_counter() - started
        out["images"] = report.images_new
        times = []
        for path in queries:
            t = time.perf_counter()
            collection.search(path, k=10)
            times.append(time.perf_counter() - t)
        out["search"] = summary_ms(times)
        times = []
        for word in words:
            t = time.perf_counter()
            collection.search(text=word, k=10)
            times.append(time.perf_counter() - t)
        out["text"] = summary_ms(times)
        out["catalog_bytes"], out["thumb_bytes"] = _sizes(collection)
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as second:
        if catalog:  # a fresh database for the queue run
            server = catalog.rsplit("/", 1)[0] + "/postgres"
            catalog, name = _database(server)
        else:  # the worker has a home of its own, as on another machine, and the queuer's catalog
            catalog = str(Path(home) / "catalog.sqlite")
        with lookalike.open(home, catalog=catalog, ingest={"workers": workers}) as collection:
            collection.enqueue(files)
        with lookalike.open(second, catalog=catalog, ingest={"workers": workers}) as collection:
            started = time.perf_counter()
            done = Worker(collection.app, "bench").run(drain=True)
            out["queue_s"] = time.perf_counter() - started
            out["queue_images"] = done.images_new
        if catalog.startswith("postgresql"):
            _drop(server, name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, required=True, help="Folder of images.")
    parser.add_argument("--limit", type=int, default=500, help="Most images used.")
    parser.add_argument("--queries", type=int, default=100, help="Searches by image and by word.")
    parser.add_argument("--workers", type=int, default=1, help="ingest.workers (1: in-process).")
    parser.add_argument(
        "--metadata", type=Path, help="JSONL sidecar (text, tags); keyword queries use its words."
    )
    parser.add_argument(
        "--postgres", required=True, help="A PostgreSQL server URL where databases may be made."
    )
    parser.add_argument("--json", help="Write the figures to this file.")
    args = parser.parse_args()

    files = image_files(args.images, limit=args.limit)
    warm_cache(files)
    queries = files[:: max(1, len(files) // args.queries)][: args.queries]
    words = [p.stem for p in queries]
    if args.metadata:  # two words of each of the queries' descriptions
        texts = [
            json.loads(line).get("text") or "" for line in args.metadata.read_text().splitlines() if line
        ]
        words = [" ".join(t.split()[:2]) for t in texts if t.strip()][: args.queries] or words
    facts = machine()
    print_machine(facts)
    url, name = _database(args.postgres)
    try:
        results = [
            run("sqlite", "", files, queries, words, args.workers, args.metadata),
            run("postgresql", url, files, queries, words, args.workers, args.metadata),
        ]
    finally:
        _drop(args.postgres, name)
    base = results[0]
    rows = []
    for r in results:
        rate, queue_rate = r["images"] / r["ingest_s"], r["queue_images"] / r["queue_s"]
        rows.append(
            [
                r["backend"],
                r["images"],
                rate,
                rate / (base["images"] / base["ingest_s"]),
                queue_rate,
                r["search"]["p50_ms"],
                r["search"]["p99_ms"],
                r["text"]["p50_ms"],
                r["text"]["p99_ms"],
                r["catalog_bytes"] / r["images"],
                r["thumb_bytes"] / r["images"],
            ]
        )
    print_table(
        [
            "catalog",
            "images",
            "ingest img/s",
            "x sqlite",
            "queue img/s",
            "search p50",
            "p99",
            "text p50",
            "p99",
            "B/image",
            "thumb B/image",
        ],
        rows,
        markdown=True,
    )
    if args.json:
        write_json(args.json, {"machine": facts, "results": results})


if __name__ == "__main__":
    main()
