"""Query latency: the phash index on synthetic codes at scale, and end-to-end search on real photos.

Part 1 (index only, in-process, one thread).  ``n`` synthetic 576-bit codes
(72 bytes, the size of lookalike's phash), clustered: random centres, each
code a centre with a share of its bits flipped, so that every code has near
neighbours.  They are added straight into the FAISS backend
(``FaissFactory().create(PHash.spec, threads=1)``: past 200k codes its searches go
through the shortlist of ``index.hash_shortlist``, see hash_shortlist.py for it against
the exhaustive scan) in one ``add`` call and, at
sizes up to ``--brute-max`` (100k), into the brute-force numpy index as the
baseline.  Each query is two rows, as the planner sends for phash (the image
and its mirror): an indexed code with a few more bits flipped, and a random
code.  Reported: build seconds, bytes of the codes, growth of the process's
resident memory, p50/p99/mean latency of ``search_batch(2 rows, k)`` (wall, and
the CPU time of the thread, which other jobs on the machine do not inflate), whether
the top hit is the code the query came from, and the cost of one incremental
``add`` of 256 new codes into the full index (what ingest does after every
committed batch).

Part 2 (``--images DIR``, optional).  DIR is indexed into a temporary
collection (``Collection.index``), then ``--e2e-queries`` of its own files are
searched with ``Collection.search(path)`` (read, decode, phash + colour query
vectors, planner: index search, re-scoring from the catalog, fusion, collapse,
catalog look-ups) with default settings; p50/p99 of the whole call, and a
breakdown of the same steps timed one by one.

Example::

    python benchmarks/query_latency.py --sizes 100000,1000000 --queries 200 --images /data/photos
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import (
    image_files,
    load_average,
    machine,
    print_machine,
    print_table,
    summary_ms,
    warm_cache,
    write_json,
)

import lookalike
from lookalike.decode import decode
from lookalike.index import BruteFactory
from lookalike.signals.phash import PHash

BITS = PHash.spec.dim  # 576
WIDTH = PHash.spec.row_width  # 72 bytes


def rss_bytes() -> int:
    """Resident memory of this process (Linux), 0 where unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            import os

            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def flips(rng: np.random.Generator, n: int, share: float, chunk: int = 50_000) -> np.ndarray:
    """``n`` packed masks with each bit set with probability ``share``."""
    out = np.empty((n, WIDTH), dtype=np.uint8)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        out[start:stop] = np.packbits(rng.random((stop - start, BITS), dtype=np.float32) < share, axis=1)
    return out


def synthetic_codes(n: int, per_cluster: int, share: float, seed: int) -> np.ndarray:
    """Clustered codes: ``n / per_cluster`` random centres, members = centre ^ random flips."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, size=(max(1, n // per_cluster), WIDTH), dtype=np.uint8)
    assign = rng.integers(0, len(centres), size=n)
    return np.asarray(centres[assign] ^ flips(rng, n, share), dtype=np.uint8)


def make_queries(codes: np.ndarray, count: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(queries of shape (count, 2, WIDTH), the index of the code each came from)."""
    rng = np.random.default_rng(seed + 1)
    source = rng.choice(len(codes), size=count, replace=False)
    near = codes[source] ^ flips(rng, count, share)
    mirror = rng.integers(0, 256, size=(count, WIDTH), dtype=np.uint8)  # stands in for the mirror row
    return np.stack([near, mirror], axis=1), source


def time_queries(
    index: Any, queries: np.ndarray, k: int, warmup: int = 5
) -> tuple[list[float], list[float], np.ndarray]:
    """Wall and thread-CPU seconds of each query, and the top id of each."""
    for q in queries[:warmup]:
        index.search_batch(q, k)
    times, cpu, top = [], [], np.empty(len(queries), dtype=np.int64)
    for j, q in enumerate(queries):
        c0, t0 = time.thread_time(), time.perf_counter()
        dist, ids = index.search_batch(q, k)
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        best = np.argmin(dist[:, 0])  # the better of the two rows
        top[j] = ids[best, 0]
    return times, cpu, top


def incremental_add_ms(index: Any, start_id: int, rng: np.random.Generator, batches: int = 5) -> float:
    """Median ms of one ``add`` of 256 new codes into the (full) index."""
    times = []
    for b in range(batches):
        ids = np.arange(start_id + b * 256, start_id + (b + 1) * 256, dtype=np.int64)
        rows = rng.integers(0, 256, size=(256, WIDTH), dtype=np.uint8)
        t0 = time.perf_counter()
        index.add(ids, rows)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def bench_backend(
    name: str, factory: Any, codes: np.ndarray, queries: np.ndarray, source: np.ndarray, ks: list[int]
) -> list[dict[str, Any]]:
    ids = np.arange(len(codes), dtype=np.int64)
    before = rss_bytes()
    index = factory.create(PHash.spec, 1)
    t0 = time.perf_counter()
    index.add(ids, codes)
    build = time.perf_counter() - t0
    grown = rss_bytes() - before
    rows = []
    for k in ks:
        times, cpu, top = time_queries(index, queries, k)
        cpu_ms = summary_ms(cpu)
        rows.append(
            {
                "backend": name,
                "size": len(codes),
                "k": k,
                "build_s": build,
                "codes_bytes": codes.nbytes,
                "rss_growth_bytes": grown,
                "top1_is_source": float(np.mean(top == source)),
                **summary_ms(times),
                "cpu_p50_ms": cpu_ms["p50_ms"],
                "cpu_p99_ms": cpu_ms["p99_ms"],
            }
        )
    add_ms = incremental_add_ms(index, len(codes), np.random.default_rng(7))
    for r in rows:
        r["add_256_ms"] = add_ms
    del index
    return rows


def end_to_end(images: Path, count: int, exclude: list[str], scratch: Path) -> dict[str, Any]:
    files = image_files(images, exclude)
    warm_cache(files)
    home = Path(tempfile.mkdtemp(prefix="e2e-", dir=scratch))
    try:
        with lookalike.open(home) as col:
            t0 = time.perf_counter()
            report = col.index(files, retire=False)
            index_s = time.perf_counter() - t0
            step = max(1, len(files) // count)
            chosen = files[::step][:count]
            for path in chosen[:5]:  # warm-up: opens the indexes, first-call costs
                _search(col, path)
            total, failed, hits = [], 0, 0
            for path in chosen:
                t0 = time.perf_counter()
                try:
                    results = col.search(path)
                except lookalike.LookalikeError:
                    failed += 1
                    continue
                total.append(time.perf_counter() - t0)
                own = col.catalog.images.ids_at(str(path.resolve()))
                hits += bool(results and own and results[0].image_id in own)
            parts: dict[str, list[float]] = {"read": [], "decode": [], "signals": [], "planner": []}
            for path in chosen:
                _search(col, path, parts)
            return {
                "images": str(images),
                "indexed_files": len(files),
                "images_new": report.images_new,
                "index_seconds": index_s,
                "queries": len(total),
                "failed_queries": failed,
                "top1_is_itself": hits / max(len(total), 1),
                "search": summary_ms(total),
                "parts": {name: summary_ms(t) for name, t in parts.items()},
            }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _search(col: Any, path: Path, parts: dict[str, list[float]] | None = None) -> None:
    """The steps of ``Collection.search(path)``, timed one by one."""
    try:
        t0 = time.perf_counter()
        data = path.read_bytes()
        t1 = time.perf_counter()
        decoded = decode(data, col.settings.decode, str(path))
        t2 = time.perf_counter()
        names = list(col.settings.search.signals)
        vectors = {name: col.signals[name].query(decoded) for name in names}
        t3 = time.perf_counter()
        col.planner.search(vectors, None, None, set(), True)
        t4 = time.perf_counter()
    except lookalike.LookalikeError:
        return
    if parts is not None:
        for name, a, b in (("read", t0, t1), ("decode", t1, t2), ("signals", t2, t3), ("planner", t3, t4)):
            parts[name].append(b - a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated index sizes")
    parser.add_argument("--queries", type=int, default=200, help="queries per size")
    parser.add_argument("--k", default="10", help="comma-separated k values (the planner asks for 100)")
    parser.add_argument("--brute-max", type=int, default=100_000, help="largest size also run on brute")
    parser.add_argument("--cluster", type=int, default=10, help="codes per cluster centre")
    parser.add_argument("--spread", type=float, default=0.08, help="share of bits flipped from the centre")
    parser.add_argument("--query-noise", type=float, default=0.05, help="share of bits flipped in a query")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--goal-p99-ms", type=float, default=10.0, help="goal for FAISS p99 at the largest size"
    )
    parser.add_argument("--images", type=Path, default=None, help="folder for the end-to-end part (optional)")
    parser.add_argument("--exclude", action="append", default=[], help="sub-folder name to skip (repeatable)")
    parser.add_argument("--e2e-queries", type=int, default=100, help="end-to-end queries (own files)")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()), help="temp collections")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument(
        "--json", default=None, metavar="PATH", help="also write the figures as JSON ('-': stdout)"
    )
    args = parser.parse_args(argv)

    from lookalike.index.faiss_backend import FaissFactory

    facts = machine()
    print_machine(facts)
    sizes = [int(s) for s in args.sizes.split(",")]
    ks = [int(k) for k in args.k.split(",")]
    load_before = load_average()
    rows: list[dict[str, Any]] = []
    gen_s = {}
    for n in sizes:
        t0 = time.perf_counter()
        codes = synthetic_codes(n, args.cluster, args.spread, args.seed)
        queries, source = make_queries(codes, args.queries, args.query_noise, args.seed)
        gen_s[n] = time.perf_counter() - t0
        rows += bench_backend("faiss", FaissFactory(), codes, queries, source, ks)
        if n <= args.brute_max:
            rows += bench_backend("brute (baseline)", BruteFactory(), codes, queries, source, ks)
        del codes
    load_after = load_average()

    print(
        f"\nindex search, one thread, {args.queries} queries of 2 rows (code + mirror) per size; "
        f"load average {load_before:.2f} before, {load_after:.2f} after"
    )
    table = []
    for r in rows:
        base = next(
            (
                b
                for b in rows
                if b["backend"].startswith("brute") and b["size"] == r["size"] and b["k"] == r["k"]
            ),
            None,
        )
        table.append(
            [
                r["backend"],
                r["size"],
                r["k"],
                r["build_s"],
                r["codes_bytes"] / 1e6,
                r["rss_growth_bytes"] / 1e6,
                r["p50_ms"],
                r["p99_ms"],
                r["mean_ms"],
                r["cpu_p50_ms"],
                r["cpu_p99_ms"],
                base["p50_ms"] / r["p50_ms"] if base else None,
                r["top1_is_source"],
                r["add_256_ms"],
            ]
        )
    print_table(
        [
            "backend",
            "codes",
            "k",
            "build s",
            "codes MB",
            "RSS +MB",
            "p50 ms",
            "p99 ms",
            "mean ms",
            "CPU p50 ms",
            "CPU p99 ms",
            "x brute (p50)",
            "top1 ok",
            "add 256 ms",
        ],
        table,
        markdown=args.markdown,
    )
    verdicts = []
    largest = max(sizes)
    for r in rows:
        if r["backend"] == "faiss" and r["size"] == largest:
            met = r["p99_ms"] <= args.goal_p99_ms
            verdicts.append(
                f"goal p99 <= {args.goal_p99_ms:g} ms at {largest:,} (faiss, k={r['k']}): "
                f"{'MET' if met else 'NOT MET'} (p99 {r['p99_ms']:.2f} ms, "
                f"{r['p99_ms'] / args.goal_p99_ms:.0%} of the budget; thread CPU p99 {r['cpu_p99_ms']:.2f} ms)"
            )
    for line in verdicts:
        print(line)

    e2e = None
    if args.images:
        e2e = end_to_end(args.images, args.e2e_queries, args.exclude, args.scratch)
        print(
            f"\nend-to-end Collection.search(path) on {e2e['indexed_files']} indexed files "
            f"({e2e['images_new']} distinct images) under {e2e['images']}, default settings; "
            f"{e2e['queries']} queries, top hit is the query's own image in {e2e['top1_is_itself']:.0%}"
        )
        srows = [
            ["Collection.search (whole call)", *(e2e["search"][c] for c in ("p50_ms", "p99_ms", "mean_ms"))]
        ]
        for name, s in e2e["parts"].items():
            srows.append([f"  step: {name}", s["p50_ms"], s["p99_ms"], s["mean_ms"]])
        print_table(["what", "p50 ms", "p99 ms", "mean ms"], srows, markdown=args.markdown)

    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "query_latency",
                "machine": facts,
                "settings": {k: v for k, v in vars(args).items() if k != "json"},
                "generate_seconds": gen_s,
                "index": rows,
                "end_to_end": e2e,
                "load_average": [load_before, load_after],
                "verdicts": verdicts,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
