"""The Milvus backend: addresses, index choice, milvus-lite end to end, and failures.

The contract every backend keeps is in test_index.py; this file checks what is Milvus's
own.  milvus-lite starts a server process per file (about a second), so the tests share
one file where they can.
"""

from __future__ import annotations

import json
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

import lookalike
from lookalike import BackendError, ConfigError
from lookalike.index import BruteIndex
from lookalike.index.milvus_uri import is_lite, milvus_uri
from lookalike.settings import IndexSettings
from lookalike.signals import Kind, Metric, SignalSpec

from conftest import encode, photo

needs_pymilvus = pytest.mark.skipif(find_spec("pymilvus") is None, reason="pymilvus is not installed")

HOME = Path("/srv/home")
EMB = SignalSpec("emb", 1, Kind.FLOAT, Metric.COSINE, 32, "float32")
HASH = SignalSpec("phash", 1, Kind.BINARY, Metric.HAMMING, 576, "uint8")


@pytest.mark.parametrize(
    ("vectors", "uri"),
    [
        ("", None),
        ("milvus://db.local:19530", "http://db.local:19530"),
        ("milvus://db.local", "http://db.local:19530"),
        ("milvus+https://cloud.example:443/images", "https://cloud.example:443/images"),
        ("milvus://[::1]:1234", "http://[::1]:1234"),
        ("vectors.db", "/srv/home/vectors.db"),
        ("/data/v-1.db", "/data/v-1.db"),
    ],
)
def test_vectors_setting_becomes_a_pymilvus_uri(vectors: str, uri: str | None) -> None:
    assert milvus_uri(vectors, HOME) == uri


@pytest.mark.parametrize(
    ("vectors", "complaint"),
    [
        ("redis://db:6379", "expected"),
        ("vectors.sqlite", "expected"),
        ("milvus://root:Milvus@db:19530", "milvus_token"),
        ("milvus://db:99999", "port"),
        ("milvus://db:19530?x=1", "host:port"),
        ("a-name-longer-than-milvus-lite-allows.db", "36"),
    ],
)
def test_bad_vectors_settings_say_what_is_expected(vectors: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint) as caught:
        milvus_uri(vectors, HOME)
    assert "root:Milvus" not in str(caught.value)  # no secrets in messages


def test_lite_is_told_from_a_server_by_the_uri() -> None:
    assert is_lite("/srv/home/vectors.db") and not is_lite("http://db:19530")


@needs_pymilvus
def test_addresses_in_messages_and_markers_carry_no_credentials() -> None:
    from lookalike.index.milvus_backend import MilvusFactory

    assert MilvusFactory(uri="https://root:secret@db:443/images").where == "https://db:443/images"
    assert MilvusFactory(uri="http://[::1]:19530").where == "http://[::1]:19530"


def test_vectors_and_index_backend_must_agree(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="vectors"):
        lookalike.open(tmp_path / "a", vectors="v.db", index={"backend": "faiss"})
    with pytest.raises(ConfigError, match="vectors"):
        lookalike.open(tmp_path / "b", index={"backend": "milvus"})
    with pytest.raises(ConfigError, match="'redis://x'"):
        lookalike.open(tmp_path / "c", vectors="redis://x")


@needs_pymilvus
def test_index_types_follow_index_dense_and_lite_falls_back() -> None:
    from lookalike.index.milvus_backend import plan

    auto = IndexSettings(flat_max=1000)
    assert plan(EMB, auto, 1000, lite=False) == ("FLAT", {})
    assert plan(EMB, auto, 1001, lite=False) == ("HNSW", {"M": 32, "efConstruction": 80})
    assert plan(EMB, auto, 1001, lite=True)[0] == "IVF_FLAT"  # milvus-lite has no HNSW
    index_type, params = plan(EMB, IndexSettings(dense="ivfpq"), 10**6, lite=False)
    assert index_type == "IVF_PQ" and EMB.dim % params["m"] == 0 and params["nlist"] == 4000
    assert plan(HASH, auto, 10**6, lite=True) == ("BIN_FLAT", {})
    assert plan(HASH, auto, 10**6, lite=False)[0] == "BIN_IVF_FLAT"


@needs_pymilvus
def test_collection_names_are_what_milvus_allows() -> None:
    from lookalike.index.milvus_backend import collection_name

    assert collection_name("lookalike", HASH) == "lookalike_phash_v1"
    odd = SignalSpec("clip-ViT/B.32", 7, Kind.FLOAT, Metric.COSINE, 512, "float16")
    assert collection_name("lookalike", odd) == "lookalike_clip_ViT_B_32_v7"


@needs_pymilvus
def test_unreachable_server_fails_at_once_naming_the_address(tmp_path: Path) -> None:
    from lookalike.index.milvus_backend import MilvusFactory

    started = time.monotonic()
    with pytest.raises(BackendError, match=r"127\.0\.0\.1:1"):
        MilvusFactory(IndexSettings(), uri="http://127.0.0.1:1").create(HASH, 1)
    with (
        lookalike.open(tmp_path / "data", vectors="milvus://127.0.0.1:1") as collection,
        pytest.raises(BackendError, match=r"127\.0\.0\.1:1"),
    ):
        collection.search(encode(photo(1)))
    assert time.monotonic() - started < 5


@pytest.fixture(scope="module")
def lite_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("lite") / "m.db")


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(20, EMB.dim))
    rows = centres[rng.integers(0, 20, n)] + 0.4 * rng.normal(size=(n, EMB.dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@needs_pymilvus
def test_lite_ivf_flat_recalls_and_reloads(lite_file: str, tmp_path: Path) -> None:
    from lookalike.index.milvus_backend import MilvusFactory

    made = MilvusFactory(IndexSettings(dense="hnsw", milvus_prefix="ivf"), uri=lite_file)
    rows, ids = clustered(3000, 1), np.arange(10, 3010, dtype=np.int64)
    index, reference = made.create(EMB, 1, size=len(rows)), BruteIndex(EMB)
    index.add(ids, rows)
    reference.add(ids, rows)
    assert index.index_type == "IVF_FLAT" and len(index) == 3000
    index.save(tmp_path / "emb.milvus.json")
    queries = clustered(50, 9)
    _, got = index.search_batch(queries, 10)
    _, want = reference.search_batch(queries, 10)
    assert np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got, want, strict=True)]) >= 0.95
    loaded = made.load(EMB, tmp_path / "emb.milvus.json", 1)
    assert (loaded.index_type, loaded.params) == ("IVF_FLAT", index.params) and len(loaded) == 3000


@needs_pymilvus
def test_load_refuses_a_marker_whose_collection_is_gone_or_elsewhere(lite_file: str, tmp_path: Path) -> None:
    from lookalike.index.milvus_backend import MilvusFactory

    made = MilvusFactory(IndexSettings(milvus_prefix="gone"), uri=lite_file)
    index = made.create(HASH, 1)
    index.add(np.arange(3), np.zeros((3, 72), dtype=np.uint8))
    marker = tmp_path / "phash.milvus.json"
    index.save(marker)
    assert json.loads(marker.read_text())["collection"] == "gone_phash_v1"
    elsewhere = MilvusFactory(IndexSettings(milvus_prefix="gone"), uri=str(tmp_path / "other.db"))
    with pytest.raises(BackendError, match="wanted: gone_phash_v1"):
        elsewhere.load(HASH, marker, 1)  # never connects: the marker names another address
    made.client().drop_collection("gone_phash_v1")
    with pytest.raises(BackendError, match="no collection gone_phash_v1"):
        made.load(HASH, marker, 1)


@needs_pymilvus
def test_collection_on_milvus_lite_answers_as_faiss_does(tmp_path: Path, photo_dir: Path) -> None:
    from PIL import ImageEnhance

    query = tmp_path / "edited.jpg"
    edited = ImageEnhance.Brightness(photo(4).resize((160, 120))).enhance(1.2)
    edited.save(query, quality=70)
    answers = []
    for name, vectors in (("faiss", ""), ("milvus", str(tmp_path / "v.db"))):
        with lookalike.open(tmp_path / name, vectors=vectors, ingest={"workers": 1}) as c:
            c.index([photo_dir])
            answers.append([(r.location, round(r.score, 4)) for r in c.search(query, k=3)])
    assert answers[0] == answers[1] and answers[1][0][0].endswith("photo4.png")
    with lookalike.open(tmp_path / "milvus", vectors=str(tmp_path / "v.db")) as c:  # opened again
        assert (tmp_path / "milvus" / "indexes" / "phash.v1.milvus.json").exists()
        target = c.search(query, k=1)[0].image_id
        c.remove(target)
        assert target not in [r.image_id for r in c.search(query, k=8)]
        assert len(c.indexes.get("phash")) == 7


@needs_pymilvus
def test_new_ids_are_inserted_and_known_ones_replaced(lite_file: str, tmp_path: Path) -> None:
    from lookalike.index.milvus_backend import MilvusFactory

    rows = np.random.default_rng(0).integers(0, 256, (6, 72), dtype=np.uint8)
    index = MilvusFactory(IndexSettings(milvus_prefix="fresh"), uri=lite_file).create(HASH, 1)
    index.add(np.array([1, 2, 2]), rows[:3])  # the last of a repeated id wins
    assert len(index) == 2 and index.search(rows[2], 1)[1][0] == 2
    index.add(np.array([3]), rows[3:4])  # new: above every id so far, inserted
    index.add(np.array([1]), rows[4:5])  # not new: replaces
    assert index.fresh_max == 3 and len(index) == 3
    index.save(tmp_path / "fresh.milvus.json")
    assert index.fresh_max is None  # saved: findable by others, so a look-up tells new from old
    index.add(np.array([9]), rows[5:6])
    index.add(np.array([9, 2]), rows[[5, 0]])
    assert len(index) == 4 and index.search(rows[4], 1)[1][0] == 1 and index.search(rows[0], 1)[1][0] == 2
