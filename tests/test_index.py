"""One contract suite for every installed index backend, checked against brute force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike.index import BruteIndex, IndexFactory
from lookalike.registry import load_registries
from lookalike.signals import Kind, Metric, SignalSpec

BINARY = SignalSpec("hash", 1, Kind.BINARY, Metric.HAMMING, 576, "uint8")
L2 = SignalSpec("vec", 1, Kind.FLOAT, Metric.L2, 32, "float32")
COSINE = SignalSpec("emb", 1, Kind.FLOAT, Metric.COSINE, 16, "float32")
BACKENDS = list(load_registries().indexes)


def vectors(spec: SignalSpec, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if spec.kind is Kind.BINARY:
        return rng.integers(0, 256, (n, spec.dim // 8), dtype=np.uint8)
    rows = rng.normal(size=(n, spec.dim)).astype(np.float32)
    if spec.metric is Metric.COSINE:
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def factory(name: str) -> IndexFactory:
    made: IndexFactory = load_registries().indexes.create(name)  # type: ignore[assignment]
    return made


def test_both_backends_are_installed_here() -> None:
    assert {"brute", "faiss"} <= set(BACKENDS)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec", [BINARY, L2, COSINE], ids=["hamming", "l2", "cosine"])
def test_search_matches_brute_force(backend: str, spec: SignalSpec) -> None:
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
def test_add_remove_replace_save_load(backend: str, tmp_path: Path) -> None:
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
def test_fewer_vectors_than_k_pads_with_minus_one(backend: str) -> None:
    spec = BINARY if backend == "descriptors" else L2  # descriptors are binary only
    index = factory(backend).create(spec, 1)
    _, empty = index.search(vectors(spec, 1)[0], 3)
    assert empty.tolist() == [-1, -1, -1]
    index.add(np.array([1, 2]), vectors(spec, 2))
    distances, ids = index.search(vectors(spec, 1, seed=5)[0], 4)
    assert sorted(ids[:2].tolist()) == [1, 2] and ids[2:].tolist() == [-1, -1]
    assert np.isinf(distances[2:]).all()
