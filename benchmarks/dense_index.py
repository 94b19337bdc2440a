"""Dense vector indexes: flat, HNSW and IVF-PQ as lookalike builds them, at up to 1M vectors.

Two kinds of data.  With ``--features BASE.npy`` (made by ``real_features.py``: a real model's
embeddings of real images), the first ``--n`` rows are the base set and ``--queries`` rows drawn
from ``BASE.queries.npy`` (features of held-out images, never rows of the base set) are the
queries; ``--whiten DIM`` fits lookalike's PCA whitening (``Whitening.fit``, ``models.whiten_dim``
= DIM, 0 for all) on ``--whiten-sample`` base rows and applies it to both, as ``models.whiten``
does (the index keeps the model's width: kept dimensions are padded with zeros).  Without it:
synthetic, clustered unit vectors (``--clusters`` random centres, each vector a
centre plus Gaussian noise, normalised), the shape of image embeddings: every
vector has near neighbours, and neighbourhoods overlap.  Queries are fresh
vectors from the same clusters.  Each index is made by lookalike's FAISS
backend (``FaissFactory(IndexSettings(dense=...)).create(spec, threads, size)``),
trained where it needs to be (IVF-PQ, on a 50k sample, as ``IndexSet`` does),
then filled in one ``add``.  Reported: build seconds (train + add), index bytes
(the saved file), p50/p99 of a one-query search of k=10 with one thread and of the search the
planner makes (``search.candidates`` x the index's ``oversample`` ids), recall@10 against the
exact (flat) answer, alone and after the planner's exact re-scoring.  The flat index is the
baseline.  ``--index-dir`` keeps built indexes (and their build seconds) so a long build and the
queries can be split over several runs.

Example::

    python benchmarks/dense_index.py --n 1000000 --dim 512 --queries 500
    python benchmarks/dense_index.py --features /tmp/real.npy --n 100000 --queries 300
"""

from __future__ import annotations

import argparse
import json
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
from lookalike.signals.whitening import Whitening


def clustered(n: int, dim: int, clusters: int, spread: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in slices: 1M x 512 float64 noise would be 4 GB
        m = min(100_000, n - start)
        block = centres[rng.integers(0, clusters, m)] + spread * rng.normal(size=(m, dim)).astype(np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def real(path: Path, n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n rows of a features file (float16, shuffled) and queries drawn from its queries file."""
    base = np.load(path, mmap_mode="r")
    if n > len(base):
        sys.exit(f"{path} has {len(base)} rows, fewer than --n {n}")
    rows = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        rows[start : start + 100_000] = base[start : min(n, start + 100_000)]
    pool = np.load(path.with_suffix(".queries.npy")).astype(np.float32)
    pick = np.random.default_rng(seed).choice(len(pool), min(queries, len(pool)), replace=False)
    return rows, pool[np.sort(pick)]


def whiten(rows: np.ndarray, queries: np.ndarray, dim: int, sample: int) -> tuple[np.ndarray, np.ndarray]:
    fit = Whitening.fit(rows[:: max(1, len(rows) // sample)], dim)
    for start in range(0, len(rows), 100_000):  # in place, in slices: no second copy of the rows
        rows[start : start + 100_000] = fit.apply(rows[start : start + 100_000])
    return rows, fit.apply(queries)


def build(
    kind: str,
    spec: SignalSpec,
    rows: np.ndarray,
    options: dict[str, Any],
    threads: int,
    keep: Path | None = None,
) -> tuple[Any, float]:
    factory = FaissFactory(IndexSettings(dense=kind, **options))  # type: ignore[arg-type]
    if keep is not None and keep.exists():
        return factory.load(spec, keep, threads), json.loads(keep.with_suffix(".json").read_text())["build_s"]
    started = time.perf_counter()
    index = factory.create(spec, threads, len(rows))
    if index.wants_training:
        sample = rows[:: max(1, len(rows) // index.wants_training)]
        index.train(sample)
    index.add(np.arange(len(rows), dtype=np.int64), rows)
    seconds = time.perf_counter() - started
    if keep is not None:
        keep.parent.mkdir(parents=True, exist_ok=True)
        index.save(keep)
        keep.with_suffix(".json").write_text(json.dumps({"build_s": seconds, "threads": threads}))
    return index, seconds


def measure(
    index: Any, rows: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int, pool: int
) -> dict[str, Any]:
    """Latency and recall of one-query searches; also recall after the planner's exact re-scoring.

    The query planner takes ``search.candidates`` (100) ids, times the index's ``oversample``
    (4 for IVF-PQ), from an index and re-scores them with the stored features, so what a user
    sees is the best k of that pool.
    """
    index._threads = 1  # one query at a time, one thread: the latency a search sees
    found, rescored, times, planner = [], [], [], []
    for q in queries:
        started = time.perf_counter()
        _, ids = index.search_batch(q[None, :], k)
        times.append(time.perf_counter() - started)
        found.append(ids[0])
        if index.kind == "flat":  # exact already: the planner's wider search adds nothing to learn
            rescored.append(ids[0])
            continue
        started = time.perf_counter()
        _, wide = index.search_batch(q[None, :], pool * index.oversample)  # as the planner asks
        planner.append(time.perf_counter() - started)
        wide = wide[0][wide[0] >= 0]
        rescored.append(wide[np.argsort(-(rows[wide] @ q))[:k]])
    recall = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))
    recall_rescored = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(rescored, truth, strict=True)]))
    wide_ms = summary_ms(planner or times)
    return {
        **summary_ms(times),
        "planner_p50_ms": wide_ms["p50_ms"],
        "planner_p99_ms": wide_ms["p99_ms"],
        "recall@10": recall,
        "recall@10_rescored": recall_rescored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--features", type=Path, help="real features (.npy, from real_features.py)")
    parser.add_argument(
        "--whiten", type=int, default=-1, help="with --features: whiten to DIM (0: all dims; -1: off)"
    )
    parser.add_argument("--whiten-sample", type=int, default=50_000, help="rows the whitening is fitted on")
    parser.add_argument("--dim", type=int, default=512, help="synthetic data only")
    parser.add_argument("--clusters", type=int, default=2000, help="synthetic data only")
    parser.add_argument(
        "--spread",
        type=float,
        default=0.5,
        help="noise per dimension around a centre (0.5: neighbours at cosine ~0.8)",
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--flat-queries", type=int, default=0, help="time the flat baseline on this many queries (0: all)"
    )
    parser.add_argument("--build-threads", type=int, default=0, help="0: every core")
    parser.add_argument(
        "--hnsw", default="32:80", help="HNSW builds to make, M:efConstruction, comma-separated"
    )
    parser.add_argument("--ef", default="32,64,96,128", help="HNSW ef_search values")
    parser.add_argument("--nprobe", default="16,64", help="IVF-PQ nprobe values")
    parser.add_argument("--skip", default="", help="comma-separated kinds to leave out (hnsw, ivfpq)")
    parser.add_argument(
        "--pool", type=int, default=100, help="candidates the planner re-scores (search.candidates)"
    )
    parser.add_argument("--index-dir", type=Path, help="keep built indexes here and reuse them")
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="with --index-dir: build and keep the indexes, measure nothing",
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    import os

    threads = args.build_threads or os.cpu_count() or 1
    facts = machine()
    print_machine(facts)
    started = time.perf_counter()
    if args.features:
        rows, queries = real(args.features, args.n, args.queries, seed=2)
        if args.whiten >= 0:
            rows, queries = whiten(rows, queries, args.whiten, args.whiten_sample)
        what = f"real features {args.features.name}" + (
            f", whitened to {args.whiten or 'all'} dims" if args.whiten >= 0 else ""
        )
        tag = f"{args.features.stem}-w{args.whiten}"
    else:
        rows = clustered(args.n, args.dim, args.clusters, args.spread, seed=1)
        queries = clustered(args.queries, args.dim, args.clusters, args.spread, seed=2)
        what = f"clustered vectors ({args.clusters} clusters)"
        tag = f"clustered-{args.dim}-{args.clusters}-{args.spread}"
    dim = rows.shape[1]
    spec = SignalSpec("embedding", 1, Kind.FLOAT, Metric.COSINE, dim, "float16")
    print(
        f"data: {len(rows)} x {dim} {what}, {len(queries)} queries, in {time.perf_counter() - started:.1f} s"
    )

    def keep(name: str) -> Path | None:
        return args.index_dir / f"{tag}-{args.n}-{name}.faiss" if args.index_dir else None

    table: list[list[Any]] = []
    results: dict[str, Any] = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "machine": facts,
        "runs": [],
    }
    flat, seconds = build("flat", spec, rows[:1] if args.build_only else rows, {}, threads)
    flat._threads = threads
    _, truth = flat.search_batch(queries, 10)  # the exact answer (all threads: not timed)
    timed = slice(0, args.flat_queries or len(queries))
    runs: list[tuple[str, Any, float, dict[str, Any]]] = [("flat (baseline)", flat, seconds, {})]
    skip = set(args.skip.split(","))
    if "hnsw" not in skip:
        for m, construction in (map(int, pair.split(":")) for pair in args.hnsw.split(",")):
            options = {"hnsw_m": m, "hnsw_ef_construction": construction}
            hnsw, seconds = build("hnsw", spec, rows, options, threads, keep(f"hnsw{m}-{construction}"))
            for ef in map(int, args.ef.split(",")):
                runs.append((f"hnsw M={m} efC={construction} ef_search={ef}", hnsw, seconds, {"ef": ef}))
    if "ivfpq" not in skip:
        ivf, seconds = build("ivfpq", spec, rows, {}, threads, keep("ivfpq"))
        for nprobe in map(int, args.nprobe.split(",")):
            runs.append((f"ivfpq nprobe={nprobe}", ivf, seconds, {"nprobe": nprobe}))
    if args.build_only:
        for label, _, seconds, _ in runs[1:]:
            print(f"built {label}: {seconds:.1f} s")
        return
    import faiss

    baseline_p99 = None
    with tempfile.TemporaryDirectory() as tmp:
        sizes: dict[int, int] = {}
        for label, index, seconds, knobs in runs:
            if "ef" in knobs:
                faiss.downcast_index(index._index.index).hnsw.efSearch = knobs["ef"]
            if "nprobe" in knobs:
                faiss.try_extract_index_ivf(index._index).nprobe = knobs["nprobe"]
            if id(index) not in sizes:
                path = Path(tmp) / f"{index.kind}.faiss"
                index.save(path)
                sizes[id(index)] = path.stat().st_size
                path.unlink()
            if index is flat:
                figures = measure(index, rows, queries[timed], truth[timed], 10, args.pool)
            else:
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
                    f"{figures['planner_p99_ms']:.2f}",
                    f"{figures['recall@10']:.3f}",
                    f"{figures['recall@10_rescored']:.3f}",
                    f"{baseline_p99 / figures['p99_ms']:.1f}x",
                ]
            )
            print(" | ".join(table[-1]), flush=True)
    print_table(
        [
            "index",
            "build s",
            "MB",
            "p50 ms",
            "p99 ms",
            f"p99 ms, top {args.pool} x oversample",
            "recall@10",
            f"recall@10 re-scored (top {args.pool} x oversample)",
            "p99 vs flat",
        ],
        table,
        markdown=True,
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
