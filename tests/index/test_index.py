"""One contract suite for every installed index backend, checked against brute force."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lookalike.index import BruteIndex, IndexFactory
from lookalike.plugins import load_plugins
from lookalike.settings import IndexSettings
from lookalike.signals import Kind, Metric, SignalSpec

BINARY = SignalSpec("hash", 1, Kind.BINARY, Metric.HAMMING, 576, "uint8")
L2 = SignalSpec("vec", 1, Kind.FLOAT, Metric.L2, 32, "float32")
COSINE = SignalSpec("emb", 1, Kind.FLOAT, Metric.COSINE, 16, "float32")
#: A real Milvus standalone server (``.ci/run`` starts one from the ``milvus`` package) runs the
#: same contract as milvus-lite, as the backend "milvus-server".
SERVER = os.environ.get("LOOKALIKE_TEST_MILVUS")
BACKENDS = list(load_plugins().indexes) + (["milvus-server"] if SERVER else [])
Make = Callable[[str], IndexFactory]  # the `factory` fixture


def vectors(spec: SignalSpec, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if spec.kind is Kind.BINARY:
        return rng.integers(0, 256, (n, spec.dim // 8), dtype=np.uint8)
    rows = rng.normal(size=(n, spec.dim)).astype(np.float32)
    if spec.metric is Metric.COSINE:
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


@pytest.fixture(scope="module")
def milvus_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    # one milvus-lite file (one server process, ~1 s to start) for the module; each test has
    # collections of its own through its own prefix
    return str(tmp_path_factory.mktemp("milvus") / "m.db")


@pytest.fixture
def factory(request: pytest.FixtureRequest, milvus_file: str) -> Make:
    """Makes a registered backend; Milvus's collections are named after the test."""

    def make(name: str) -> IndexFactory:
        if name not in ("milvus", "milvus-server"):
            made: IndexFactory = load_plugins().indexes.get(name)()  # type: ignore[assignment]
            return made
        prefix = re.sub(r"\W", "_", request.node.name)
        options = IndexSettings(milvus_prefix=prefix)
        uri = SERVER if name == "milvus-server" else milvus_file
        milvus: IndexFactory = load_plugins().indexes.get("milvus")(options, uri=uri)  # type: ignore[assignment]
        return milvus

    return make


def test_both_backends_are_installed_here() -> None:
    assert {"brute", "faiss"} <= set(BACKENDS)
    if os.environ.get("CI_REQUIRE_MILVUS"):  # CI must run the contract on a real server, not skip it
        assert SERVER and "milvus" in BACKENDS, "set LOOKALIKE_TEST_MILVUS to a Milvus server's URI"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec", [BINARY, L2, COSINE], ids=["hamming", "l2", "cosine"])
def test_search_matches_brute_force(backend: str, spec: SignalSpec, factory: Make) -> None:
    if backend == "descriptors" and spec.kind is not Kind.BINARY:
        pytest.skip("the descriptor index holds binary descriptors only")
    rows, ids = vectors(spec, 300), np.arange(1000, 1300, dtype=np.int64)
    index, reference = factory(backend).create(spec, 1), BruteIndex(spec)
    index.add(ids, rows)
    reference.add(ids, rows)
    queries = vectors(spec, 10, seed=1)
    got_d, got_i = index.search_batch(queries, 7)
    want_d, want_i = reference.search_batch(queries, 7)
    assert np.allclose(got_d, want_d, atol=1e-3)
    # ids agree wherever distances are not tied
    assert (got_i[:, 0] == want_i[:, 0]).mean() > 0.9
    d, i = index.search(rows[5], 1)
    assert i[0] == 1005 and d[0] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_add_remove_replace_save_load(backend: str, tmp_path: Path, factory: Make) -> None:
    spec, made = BINARY, factory(backend)
    rows = vectors(spec, 50)
    index = made.create(spec, 1)
    index.add(np.arange(50), rows)
    assert len(index) == 50
    assert index.remove(np.array([3, 4, 999])) == 2
    assert len(index) == 48
    index.add(np.array([7]), rows[8:9])  # re-adding an id replaces its vector
    assert len(index) == 48
    _, found = index.search(rows[8], 2)
    assert set(found.tolist()) == {7, 8}
    path = tmp_path / f"index{made.suffix}"
    index.save(path)
    loaded = made.load(spec, path, 1)
    assert len(loaded) == 48
    _, again = loaded.search(rows[10], 1)
    assert again[0] == 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_fewer_vectors_than_k_pads_with_minus_one(backend: str, factory: Make) -> None:
    spec = BINARY if backend == "descriptors" else L2  # descriptors are binary only
    index = factory(backend).create(spec, 1)
    _, empty = index.search(vectors(spec, 1)[0], 3)
    assert empty.tolist() == [-1, -1, -1]
    index.add(np.array([1, 2]), vectors(spec, 2))
    distances, ids = index.search(vectors(spec, 1, seed=5)[0], 4)
    assert sorted(ids[:2].tolist()) == [1, 2] and ids[2:].tolist() == [-1, -1]
    assert np.isinf(distances[2:]).all()


DENSE = ["flat", "hnsw", "ivfpq"]


def dense_factory(kind: str) -> IndexFactory:
    from lookalike.index.faiss_backend import FaissFactory

    return FaissFactory(IndexSettings(dense=kind, ef_search=64, nprobe=16))  # type: ignore[arg-type]


def clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    rows = centres[rng.integers(0, 20, n)] + 0.4 * rng.normal(size=(n, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("kind", DENSE)
def test_dense_indexes_recall_remove_and_reload(kind: str, tmp_path: Path) -> None:
    spec = SignalSpec("emb", 1, Kind.FLOAT, Metric.COSINE, 32, "float32")
    rows, ids = clustered(3000), np.arange(10, 3010, dtype=np.int64)
    made = dense_factory(kind)
    index, reference = made.create(spec, 1, size=len(rows)), BruteIndex(spec)
    if getattr(index, "wants_training", 0):
        index.train(rows)  # type: ignore[attr-defined]
    index.add(ids, rows)
    reference.add(ids, rows)
    assert len(index) == 3000 and index.kind == kind  # type: ignore[attr-defined]
    queries = clustered(50, seed=9)
    _, got = index.search_batch(queries, 10)
    _, want = reference.search_batch(queries, 10)
    recall = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got, want, strict=True)])
    assert recall >= (0.95 if kind != "ivfpq" else 0.5), recall
    # what the planner does: ask for oversample x k, re-score exactly; a lossy index then keeps up
    assert index.oversample == (4 if kind == "ivfpq" else 1)
    _, wide = index.search_batch(queries, 10 * index.oversample)
    best = [w[np.argsort(-(rows[w - 10] @ q))[:10]] for w, q in zip(wide, queries, strict=True)]
    assert np.mean([len(set(b) & set(w)) / 10 for b, w in zip(best, want, strict=True)]) >= 0.95
    gone = want[:, 0]
    assert index.remove(gone) == len(set(gone.tolist()))
    assert len(index) == 3000 - len(set(gone.tolist()))
    _, after = index.search_batch(queries, 10)
    assert not np.isin(after, gone).any() and (after >= 0).all()
    path = tmp_path / f"index{made.suffix}"
    index.save(path)
    loaded = made.load(spec, path, 1)
    assert len(loaded) == len(index) and loaded.kind == kind  # type: ignore[attr-defined]
    _, reloaded = loaded.search_batch(queries, 10)
    assert not np.isin(reloaded, gone).any()
    index.add(ids[:5], rows[:5])  # a replayed add changes nothing
    assert len(index) == 3000 - len(set(gone.tolist())) + len(set(ids[:5].tolist()) & set(gone.tolist()))


def test_auto_keeps_small_float_indexes_exact_and_large_ones_hnsw() -> None:
    from lookalike.index.faiss_backend import FaissFactory

    made = FaissFactory(IndexSettings(flat_max=1000))
    assert made.create(COSINE, 1, size=1000).kind == "flat"
    assert made.create(COSINE, 1, size=1001).kind == "hnsw"
    assert made.create(BINARY, 1, size=10**6).kind == "flat"  # hashes stay exact (binary flat)


def test_hnsw_build_settings_reach_the_graph_and_a_build_uses_every_core() -> None:
    import faiss

    from lookalike.index.faiss_backend import FaissFactory

    made = FaissFactory(IndexSettings(dense="hnsw", hnsw_m=12, hnsw_ef_construction=24, ef_search=50))
    index = made.create(COSINE, 1, size=500)
    graph = faiss.downcast_index(index._index.index)
    assert (graph.hnsw.efConstruction, graph.hnsw.efSearch) == (24, 50)
    rows = vectors(COSINE, 500)
    index.add(np.arange(250, dtype=np.int64), rows[:250])
    index.search_batch(rows[:3], 5)  # a search runs on index.threads (1) ...
    index.add(np.arange(250, 500, dtype=np.int64), rows[250:])  # ... a build on every core
    assert faiss.omp_get_max_threads() == len(os.sched_getaffinity(0))
    _, ids = index.search_batch(rows[400:410], 1)
    assert (ids[:, 0] == np.arange(400, 410)).all()
