"""Dense vector indexes: flat, HNSW and IVF-PQ as lookalike builds them, at up to 1M 512-d vectors.

Synthetic, clustered unit vectors (``--clusters`` random centres, each vector a
centre plus Gaussian noise, normalised), the shape of image embeddings: every
vector has near neighbours, and neighbourhoods overlap.  Queries are fresh
vectors from the same clusters.  Each index is made by lookalike's FAISS
backend (``FaissFactory(IndexSettings(dense=...)).create(spec, threads, size)``),
trained where it needs to be (IVF-PQ, on a 50k sample, as ``IndexSet`` does),
then filled in one ``add``.  Reported: build seconds (train + add), index bytes
(the saved file), p50/p99 of a one-query search with one thread, and recall@10
against the exact (flat) answer.  The flat index is the baseline.

Example::

    python benchmarks/dense_index.py --n 1000000 --dim 512 --queries 500
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import machine, print_machine, print_table, summary_ms, write_json

from lookalike.index.faiss_backend import FaissFactory
from lookalike.settings import IndexSettings
from lookalike.signals import Kind, Metric, SignalSpec


def clustered(n: int, dim: int, clusters: int, spread: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in slices: 1M x 512 float64 noise would be 4 GB
        m = min(100_000, n - start)
        block = centres[rng.integers(0, clusters, m)] + spread * rng.normal(size=(m, dim)).astype(np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def build(
    kind: str, spec: SignalSpec, rows: np.ndarray, options: dict[str, Any], threads: int
) -> tuple[Any, float]:
    factory = FaissFactory(IndexSettings(dense=kind, **options))  # type: ignore[arg-type]
    started = time.perf_counter()
    index = factory.create(spec, threads, len(rows))
    if index.wants_training:
        sample = rows[:: max(1, len(rows) // index.wants_training)]
        index.train(sample)
    index.add(np.arange(len(rows), dtype=np.int64), rows)
    return index, time.perf_counter() - started


def measure(
    index: Any, rows: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int, pool: int
) -> dict[str, Any]:
    """Latency and recall of one-query searches; also recall after the planner's exact re-scoring.

    The query planner takes ``search.candidates`` (100) ids, times the index's ``oversample``
    (4 for IVF-PQ), from an index and re-scores them with the stored features, so what a user
    sees is the best k of that pool.
    """
    index._threads = 1  # one query at a time, one thread: the latency a search sees
    found, rescored, times = [], [], []
    for q in queries:
        started = time.perf_counter()
        _, ids = index.search_batch(q[None, :], k)
        times.append(time.perf_counter() - started)
        found.append(ids[0])
        _, wide = index.search_batch(q[None, :], pool * index.oversample)  # as the planner asks
        wide = wide[0][wide[0] >= 0]
        rescored.append(wide[np.argsort(-(rows[wide] @ q))[:k]])
    recall = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))
    recall_rescored = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(rescored, truth, strict=True)]))
    return {**summary_ms(times), "recall@10": recall, "recall@10_rescored": recall_rescored}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument(
        "--spread",
        type=float,
        default=0.5,
        help="noise per dimension around a centre (0.5: neighbours at cosine ~0.8)",
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--build-threads", type=int, default=0, help="0: every core")
    parser.add_argument("--ef", default="32,64,96,128", help="HNSW ef_search values")
    parser.add_argument("--nprobe", default="16,64", help="IVF-PQ nprobe values")
    parser.add_argument("--skip", default="", help="comma-separated kinds to leave out (hnsw, ivfpq)")
    parser.add_argument(
        "--pool", type=int, default=100, help="candidates the planner re-scores (search.candidates)"
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    import os

    threads = args.build_threads or os.cpu_count() or 1
    facts = machine()
    print_machine(facts)
    spec = SignalSpec("embedding", 1, Kind.FLOAT, Metric.COSINE, args.dim, "float16")
    started = time.perf_counter()
    rows = clustered(args.n, args.dim, args.clusters, args.spread, seed=1)
    queries = clustered(args.queries, args.dim, args.clusters, args.spread, seed=2)
    print(
        f"data: {args.n} x {args.dim} clustered vectors ({args.clusters} clusters) in {time.perf_counter() - started:.1f} s"
    )
    table: list[list[Any]] = []
    results: dict[str, Any] = {"args": vars(args), "machine": facts, "runs": []}
    flat, seconds = build("flat", spec, rows, {}, threads)
    flat._threads = threads
    _, truth = flat.search_batch(queries, 10)
    runs: list[tuple[str, Any, float, dict[str, Any]]] = [("flat (baseline)", flat, seconds, {})]
    skip = set(args.skip.split(","))
    if "hnsw" not in skip:
        hnsw, seconds = build("hnsw", spec, rows, {}, threads)
        for ef in map(int, args.ef.split(",")):
            runs.append((f"hnsw ef_search={ef}", hnsw, seconds, {"ef": ef}))
    if "ivfpq" not in skip:
        ivf, seconds = build("ivfpq", spec, rows, {}, threads)
        for nprobe in map(int, args.nprobe.split(",")):
            runs.append((f"ivfpq nprobe={nprobe}", ivf, seconds, {"nprobe": nprobe}))
    baseline_p99 = None
    with tempfile.TemporaryDirectory() as tmp:
        sizes: dict[int, int] = {}
        for label, index, seconds, knobs in runs:
            if "ef" in knobs:
                import faiss

                faiss.downcast_index(index._index.index).hnsw.efSearch = knobs["ef"]
            if "nprobe" in knobs:
                import faiss

                faiss.try_extract_index_ivf(index._index).nprobe = knobs["nprobe"]
            if id(index) not in sizes:
                path = Path(tmp) / f"{index.kind}.faiss"
                index.save(path)
                sizes[id(index)] = path.stat().st_size
                path.unlink()
            figures = measure(index, rows, queries, truth, 10, args.pool)
            baseline_p99 = baseline_p99 or figures["p99_ms"]
            row = {"index": label, "build_s": seconds, "bytes": sizes[id(index)], **figures}
            results["runs"].append(row)
            table.append(
                [
                    label,
                    f"{seconds:.1f}",
                    f"{sizes[id(index)] / 1e6:.0f}",
                    f"{figures['p50_ms']:.2f}",
                    f"{figures['p99_ms']:.2f}",
                    f"{figures['recall@10']:.3f}",
                    f"{figures['recall@10_rescored']:.3f}",
                    f"{baseline_p99 / figures['p99_ms']:.1f}x",
                ]
            )
    print_table(
        [
            "index",
            "build s",
            "MB",
            "p50 ms",
            "p99 ms",
            "recall@10",
            f"recall@10 re-scored (top {args.pool})",
            "p99 vs flat",
        ],
        table,
        markdown=True,
    )
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
