"""Milvus (milvus-lite, and a standalone server) against FAISS, as lookalike's backends drive them.

Two kinds of data: 512-d unit float vectors compared by cosine (the size of a CLIP
ViT-B/32 embedding; clustered as in ``dense_index.py``) and 576-bit hashes compared
by Hamming distance (the phash; clustered as in ``query_latency.py``).  The exact
answer is FAISS's flat index (exact by construction).  Each index is
made through lookalike's own factories (``FaissFactory`` and ``MilvusFactory`` with a
milvus-lite file) with the same structure on both sides where there is one: exact
search (FAISS flat against Milvus FLAT / BIN_FLAT), and, with ``--ivf``, Milvus-lite's
IVF_FLAT (what ``index.dense=hnsw`` or ``auto`` past ``index.flat_max`` gives on
milvus-lite) against a FAISS IVF-flat with the same lists and nprobe.  The IVF_FLAT is
the FLAT collection re-indexed (drop_index, create_index, load), so the rows are not
inserted twice; its build time is in the "index s" column.

Reported per index: insert throughput (one ``add`` of every vector, in vectors/s; for
Milvus also the ``save`` that flushes, and the wait until the server says its index is
built), the cost of adding 256 new ids to the full index and removing them (what ingest does
after each committed batch; on a saved Milvus index an add is an upsert), p50/p99 of a one-query
``search_batch`` (k=10, one FAISS thread; Milvus-lite
runs its own threads), and recall@10 against the exact answer (tie-aware: a result
counts when it is at most as far as the exact 10th, which matters for Hamming
distances, whole numbers that tie often).  milvus-lite has no binary IVF, so ``--ivf``
compares float indexes only.  FAISS is the baseline of each group.  With ``--server URI``
the same rows also go to a Milvus standalone server (the PyPI package ``milvus`` runs one:
``milvus-server --data DIR``): FLAT / BIN_FLAT, then what lookalike builds there past
``index.flat_max`` (HNSW for floats, BIN_IVF_FLAT for hashes).

Example::

    python benchmarks/milvus_vs_faiss.py --n 100000,1000000 --queries 200
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import load_average, machine, print_machine, print_table, summary_ms, write_json
from dense_index import clustered
from pymilvus import MilvusClient
from query_latency import synthetic_codes

from lookalike.index import VectorIndex
from lookalike.index.faiss_backend import FaissFactory, FaissIndex
from lookalike.index.milvus_backend import METRICS, MilvusFactory, MilvusIndex, plan
from lookalike.settings import IndexSettings
from lookalike.signals import Kind, Metric, SignalSpec, distances

FLOAT = SignalSpec("embedding", 1, Kind.FLOAT, Metric.COSINE, 512, "float16")
BINARY = SignalSpec("phash", 1, Kind.BINARY, Metric.HAMMING, 576, "uint8")


def data(spec: SignalSpec, n: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, queries): queries are fresh members of the rows' clusters."""
    if spec.kind is Kind.FLOAT:
        return clustered(n, spec.dim, 2000, 0.5, seed=1), clustered(queries, spec.dim, 2000, 0.5, seed=2)
    both = synthetic_codes(n + queries, 10, 0.08, seed=0)  # one draw: queries share the centres
    rng = np.random.default_rng(3)
    return both[:n], both[n:][rng.permutation(queries)]


def recall(
    spec: SignalSpec, rows: np.ndarray, queries: np.ndarray, found: np.ndarray, kth: np.ndarray
) -> float:
    """Share of the results at most as far as the exact k-th neighbour (``kth``, per query)."""
    hits = []
    for q, ids, limit in zip(queries, found, kth, strict=True):
        # an id past the rows is one the increment added and removed that a server's search, at
        # Session consistency, may still return for a moment; it counts as a miss (the planner
        # drops such ids: the catalog holds no features for them)
        d = distances(spec.metric, q[None, :], rows[ids[(ids >= 0) & (ids < len(rows))]])[0]
        hits.append(min(1.0, float((d <= limit + 1e-4).sum()) / len(found[0])))
    return float(np.mean(hits))


def lite_rss() -> int:
    """Resident bytes of this process's milvus-lite server processes (Linux)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(os.getpid()) and "milvus" in fields.get("Name", ""):
            total += int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    return total


def wait_for_index(index: MilvusIndex, limit_s: float) -> float:
    """Seconds until Milvus reports every row indexed (or ``limit_s``)."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        state = index._client.describe_index(index.name, "v")
        if int(state.get("pending_index_rows", 0)) == 0 and state.get("state") == "Finished":
            break
        time.sleep(1.0)
    return time.perf_counter() - started


def latency(
    index: VectorIndex, queries: np.ndarray, k: int
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Timings of one-query searches, and their (distances, ids)."""
    times, near, found = [], [], []
    for q in queries:
        started = time.perf_counter()
        d, ids = index.search_batch(q[None, :], k)
        times.append(time.perf_counter() - started)
        near.append(d[0])
        found.append(ids[0])
    return summary_ms(times), np.stack(near), np.stack(found)


def faiss_ivf(spec: SignalSpec, rows: np.ndarray, lists: int, nprobe: int) -> FaissIndex:
    """A FAISS IVF-flat (inner product) with ``lists`` lists, trained on a sample: Milvus's IVF_FLAT."""
    import faiss

    quantizer = faiss.IndexFlatIP(spec.dim)
    inner = faiss.IndexIVFFlat(quantizer, spec.dim, lists, faiss.METRIC_INNER_PRODUCT)
    inner.train(rows[:: max(1, len(rows) // (40 * lists))])
    inner.nprobe = nprobe
    index = FaissIndex(spec, inner, 1, None, "ivf")
    index._quantizer = quantizer  # type: ignore[attr-defined]  # must outlive the index
    return index


def build_faiss(
    spec: SignalSpec, kind: str, rows: np.ndarray, args: argparse.Namespace
) -> tuple[Any, dict[str, Any]]:
    started = time.perf_counter()
    lists = int(min(65_536, max(16, 4 * np.sqrt(len(rows))))) if kind == "ivf" else 0
    if lists:
        index: FaissIndex = faiss_ivf(spec, rows, lists, args.nprobe)
    else:
        index = FaissFactory(IndexSettings(dense="flat")).create(spec, 1, len(rows))
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    index.add(np.arange(len(rows), dtype=np.int64), rows)
    return index, {"train_s": train_s, "insert_s": time.perf_counter() - started, "nlist": lists}


def build_milvus(
    spec: SignalSpec,
    kind: str,
    rows: np.ndarray,
    args: argparse.Namespace,
    db: Path,
    server: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """A Milvus index on the milvus-lite file ``db``, or on the standalone ``server`` (its URI):
    ``kind`` 'flat' (FLAT / BIN_FLAT) or what lookalike builds past ``index.flat_max`` ('hnsw':
    HNSW on a server and IVF_FLAT on milvus-lite for floats, BIN_IVF_FLAT for hashes)."""
    dense = "flat" if kind == "flat" else "hnsw"
    options = IndexSettings(
        dense=dense,
        flat_max=10**12 if kind == "flat" else 0,
        nprobe=args.nprobe,
        milvus_prefix=f"b{len(rows)}_{kind}_{'s' if server else 'l'}",
    )
    started = time.perf_counter()
    index = MilvusFactory(options, uri=server or str(db)).create(spec, 1, len(rows))
    train_s = time.perf_counter() - started  # creating the collection
    started = time.perf_counter()
    index.add(np.arange(len(rows), dtype=np.int64), rows)
    insert_s = time.perf_counter() - started
    started = time.perf_counter()
    index.save(db.parent / f"{index.name}.milvus.json")
    flush_s = time.perf_counter() - started
    index_s = wait_for_index(index, args.index_wait)
    state = index._client.describe_index(index.name, "v")
    return index, {
        "train_s": train_s,
        "insert_s": insert_s,
        "flush_s": flush_s,
        "index_wait_s": index_s,
        "indexed_rows": int(state.get("indexed_rows", 0)),
        **({} if server else {"lite_rss_mb": lite_rss() / 1e6, "lite_file_mb": db.stat().st_size / 1e6}),
        "nlist": index.params.get("nlist", 0),
    }


def reindex(flat: MilvusIndex, facts: dict[str, Any], args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The FLAT collection given an IVF_FLAT index instead (what milvus-lite builds for hnsw and for
    ``auto`` past ``index.flat_max``): the same rows, without inserting them again."""
    options = IndexSettings(dense="hnsw", nprobe=args.nprobe)
    index_type, params = plan(flat.spec, options, int(facts["size"]), lite=True)
    client, name = flat._client, flat.name
    started = time.perf_counter()
    client.release_collection(name)
    client.drop_index(name, "v")
    wanted = MilvusClient.prepare_index_params()
    wanted.add_index("v", index_type=index_type, metric_type=METRICS[flat.spec.metric], params=params)
    client.create_index(name, wanted)  # waits until Milvus says the index is built
    client.load_collection(name)
    built = time.perf_counter() - started
    index = MilvusIndex(client, flat.spec, name, flat.where, index_type, params, options, lite=True)
    state = client.describe_index(name, "v")
    return index, {
        **facts,
        "train_s": 0.0,
        "flush_s": 0.0,
        "index_wait_s": built,
        "indexed_rows": int(state.get("indexed_rows", 0)),
        "lite_rss_mb": lite_rss() / 1e6,
        "nlist": params["nlist"],
        "reindexed": True,
    }


def increment(index: Any, rows: np.ndarray, count: int = 256) -> dict[str, float]:
    """Milliseconds to add ``count`` new ids to the full index (what ingest does after each committed
    batch; an upsert on a saved Milvus index) and to remove them again."""
    ids = np.arange(len(rows), len(rows) + count, dtype=np.int64)
    started = time.perf_counter()
    index.add(ids, rows[:count])
    added = time.perf_counter() - started
    started = time.perf_counter()
    index.remove(ids)
    return {"add_256_ms": 1000 * added, "remove_256_ms": 1000 * (time.perf_counter() - started)}


def run(spec: SignalSpec, n: int, args: argparse.Namespace, db: Path) -> list[dict[str, Any]]:
    rows, queries = data(spec, n, args.queries)
    kth = np.zeros(len(queries), dtype=np.float32)  # the exact k-th distances, from the flat FAISS index
    made: list[dict[str, Any]] = []
    sides = [("faiss", "flat"), ("milvus-lite", "flat")]
    if args.ivf and spec.kind is Kind.FLOAT:  # milvus-lite has no binary IVF
        sides += [("faiss", "ivf"), ("milvus-lite", "ivf")]
    if args.server:  # a standalone server: exact, then the index lookalike builds past flat_max
        sides += [("milvus-server", "flat"), ("milvus-server", "hnsw")]
    flat: tuple[Any, dict[str, Any]] | None = None
    for backend, kind in sides:
        if backend == "faiss":
            index, facts = build_faiss(spec, kind, rows, args)
            index._threads = 1
        elif kind == "ivf" and flat is not None:
            index, facts = reindex(*flat, args)
        elif backend == "milvus-server":
            index, facts = build_milvus(spec, kind, rows, args, db, server=args.server)
            facts["size"] = n
        else:
            index, facts = build_milvus(spec, kind, rows, args, db)
            facts["size"] = n
        figures, near, found = latency(index, queries, args.k)  # before the increment: see recall()
        if not facts.get("reindexed"):
            facts.update(increment(index, rows))
        if (backend, kind) == ("faiss", "flat"):
            kth = near[:, args.k - 1]
        label = f"{backend} {index.index_type if backend != 'faiss' else kind}"
        made.append(
            {
                **figures,
                **facts,
                "data": f"{spec.dim}-{'bit' if spec.kind is Kind.BINARY else 'd'} {spec.metric.value}",
                "size": n,
                "index": label + (f" nlist={facts['nlist']} nprobe={args.nprobe}" if facts["nlist"] else ""),
                "insert_per_s": n / facts["insert_s"],
                "recall@10": recall(spec, rows, queries, found, kth),
            }
        )
        print(f"  {made[-1]}", flush=True)
        if backend == "milvus-lite" and kind == "flat" and args.ivf and spec.kind is Kind.FLOAT:
            flat = (index, facts)  # re-indexed as IVF_FLAT below
        elif backend != "faiss":  # frees milvus-lite's memory for the next index
            index._client.drop_collection(index.name)
        del index
    return made


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", default="100000,1000000", help="comma-separated index sizes")
    parser.add_argument("--kinds", default="float,binary", help="float (512-d cosine), binary (576-bit)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--ivf", action="store_true", help="also IVF_FLAT against FAISS IVF-flat")
    parser.add_argument("--nprobe", type=int, default=32, help="IVF lists searched (index.nprobe)")
    parser.add_argument("--index-wait", type=float, default=900, help="longest wait for Milvus's index build")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()), help="for the .db file")
    parser.add_argument(
        "--server", help="also a Milvus standalone server at this URI (e.g. http://127.0.0.1:19530)"
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    facts = machine()
    print_machine(facts)
    print(f"load average at start: {load_average()}")
    results: dict[str, Any] = {"args": vars(args), "machine": facts, "runs": []}
    specs = {"float": FLOAT, "binary": BINARY}
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        db = Path(tmp) / "bench.db"
        started = time.perf_counter()
        MilvusFactory(IndexSettings(), uri=str(db)).client()
        print(f"milvus-lite start-up: {time.perf_counter() - started:.2f} s")
        for n in map(int, args.n.split(",")):
            for kind in args.kinds.split(","):
                results["runs"] += run(specs[kind], n, args, db)
        print(f"load average at the end: {load_average()}")
    table, baseline = [], None
    for row in results["runs"]:
        if row["index"].startswith("faiss"):
            baseline = row
        assert baseline is not None
        table.append(
            [
                row["data"],
                f"{row['size']:,}",
                row["index"],
                "(same rows)" if row.get("reindexed") else f"{row['insert_per_s']:,.0f}",
                "" if row.get("reindexed") else f"{row['insert_per_s'] / baseline['insert_per_s']:.3f}x",
                f"{row['train_s']:.1f}",
                f"{row.get('flush_s', 0):.1f} / {row.get('index_wait_s', 0):.0f}"
                if "flush_s" in row
                else "-",
                "" if row.get("reindexed") else f"{row['add_256_ms']:.0f} / {row['remove_256_ms']:.0f}",
                f"{row['p50_ms']:.2f}",
                f"{row['p99_ms']:.2f}",
                f"{baseline['p50_ms'] / row['p50_ms']:.2f}x",
                f"{row['recall@10']:.3f}",
                f"{row['lite_rss_mb']:,.0f} / {row['lite_file_mb']:,.0f}" if "lite_rss_mb" in row else "-",
            ]
        )
    headers = [
        "data",
        "n",
        "index",
        "insert/s",
        "vs faiss",
        "train/create s",
        "flush / index s",
        "+256 / -256 ms",
    ]
    more = ["p50 ms", "p99 ms", "p50 faiss/this", "recall@10", "lite RSS / file MB"]
    print_table([*headers, *more], table, markdown=True)
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
