"""The descriptor index on disk: a trained IVF is saved and loaded, not trained again, and a
FAISS file that disagrees with its npz is refused, so the collection rebuilds it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import lookalike
from lookalike.decode import decode
from lookalike.errors import BackendError
from lookalike.index import BruteIndex
from lookalike.index.descriptors import RETRAIN_GROWTH, DescriptorFactory, DescriptorIndex
from lookalike.index.sync import IndexSet
from lookalike.settings import DecodeSettings

from conftest import encode, scene

pytest.importorskip("cv2")
from lookalike.signals.keypoints import Keypoints

SPEC = Keypoints.spec
IVF_ROWS = 3000


def rows_of(images: int, per_image: int = 50, seed: int = 0, first: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(first, first + images, dtype=np.int64) * 10, per_image)
    return ids, rng.integers(0, 256, (len(ids), SPEC.row_width), dtype=np.uint8)


def trained(tmp_path: Path) -> tuple[DescriptorIndex, Path, np.ndarray]:
    """An IVF index of 80 images (4,000 rows), saved; and queries near its rows."""
    ids, rows = rows_of(80)
    index = DescriptorIndex(SPEC, ivf_rows=IVF_ROWS)
    index.add(ids, rows)
    assert index.structure == "ivf" and index.trainings == 1
    path = tmp_path / "d.desc.npz"
    index.save(path)
    rng = np.random.default_rng(1)
    queries = rows[rng.choice(len(rows), 50, replace=False)] ^ rng.integers(0, 2, (50, 32), dtype=np.uint8)
    return index, path, queries


def faiss_file(path: Path) -> Path:
    return DescriptorFactory().files(path)[1]


def overwrite(target: Path, data: bytes) -> None:
    """Put other bytes under a file's name as a new file: a process that has the old one
    memory-mapped keeps its pages (cutting that file short would kill it with SIGBUS)."""
    tmp = target.with_name(target.name + ".damaged")
    tmp.write_bytes(data)
    tmp.replace(target)


def test_a_saved_ivf_is_loaded_without_training_and_answers_the_same(tmp_path: Path) -> None:
    index, path, queries = trained(tmp_path)
    loaded = DescriptorIndex.load(SPEC, path, ivf_rows=IVF_ROWS)
    assert loaded.structure == "ivf" and loaded.mapped and loaded.trainings == 0
    assert len(loaded) == len(index) == 4000 and loaded.images() == 80
    for got, want in zip(loaded.search_batch(queries, 8), index.search_batch(queries, 8), strict=True):
        assert np.array_equal(got, want)


def test_a_mapped_ivf_reads_its_lists_without_prefetch_threads(tmp_path: Path) -> None:
    """FAISS's memory-mapped lists start 32 reader threads per search unless told not to."""
    import faiss

    _, path, queries = trained(tmp_path)
    loaded = DescriptorIndex.load(SPEC, path, ivf_rows=IVF_ROWS)
    assert faiss.downcast_InvertedLists(loaded._index.invlists).prefetch_nthread == 0
    assert loaded.search_batch(queries, 8)[1].shape == (50, 8)


def test_adding_and_removing_after_load(tmp_path: Path) -> None:
    _, path, queries = trained(tmp_path)
    loaded = DescriptorIndex.load(SPEC, path, ivf_rows=IVF_ROWS)
    new_ids, new_rows = rows_of(3, seed=5, first=100)
    loaded.add(new_ids, new_rows)
    assert not loaded.mapped and len(loaded) == 4150 and loaded.images() == 83
    distances, found = loaded.search_batch(new_rows[::10], 1)
    assert (distances[:, 0] == 0).all() and np.array_equal(found[:, 0], new_ids[::10])
    assert loaded.remove(np.array([10, 20, 1000, 999])) == 150  # two old images and a new one
    assert len(loaded) == 4000 and loaded.images() == 80
    _, after = loaded.search_batch(np.vstack([queries, new_rows]), 8)
    assert not np.isin(after, [10, 20, 1000]).any()
    assert loaded.trainings == 0
    loaded.save(path)
    again = DescriptorIndex.load(SPEC, path, ivf_rows=IVF_ROWS)
    assert again.trainings == 0 and len(again) == 4000
    assert np.array_equal(again.search_batch(queries, 8)[1], loaded.search_batch(queries, 8)[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in DescriptorFactory().files(path)
    )


def test_the_ivf_is_trained_again_only_when_it_outgrew_its_centroids(tmp_path: Path) -> None:
    index = DescriptorIndex(SPEC, ivf_rows=1000)
    index.add(*rows_of(25))  # 1,250 rows: trained among them
    index.save(tmp_path / "d.desc.npz")
    loaded = DescriptorIndex.load(SPEC, tmp_path / "d.desc.npz", ivf_rows=1000)
    step = 0
    while len(loaded) + 1250 < RETRAIN_GROWTH * 1250:
        loaded.add(*rows_of(25, seed=10 + step, first=1000 + 25 * step))
        step += 1
    assert loaded.trainings == 0 and step == 8
    ids, rows = rows_of(25, seed=99, first=100_000)
    loaded.add(ids, rows)
    assert loaded.trainings == 1 and len(loaded) == RETRAIN_GROWTH * 1250
    distances, found = loaded.search_batch(rows[::25], 1)
    assert (distances[:, 0] == 0).all() and np.array_equal(found[:, 0], ids[::25])


@pytest.mark.parametrize("damage", ["truncated", "missing", "another save's"])
def test_a_faiss_file_that_disagrees_with_its_npz_is_refused(tmp_path: Path, damage: str) -> None:
    index, path, _ = trained(tmp_path)
    stored = faiss_file(path)
    if damage == "truncated":
        overwrite(stored, stored.read_bytes()[: stored.stat().st_size // 2])
    elif damage == "missing":
        stored.unlink()
    else:  # a pair from two saves: the FAISS file of one with fewer rows under the other's name
        index.remove(np.array([10]))
        other = tmp_path / "other" / path.name
        other.parent.mkdir()
        index.save(other)
        overwrite(stored, faiss_file(other).read_bytes())
    with pytest.raises(BackendError, match=re.escape(str(path))):
        DescriptorIndex.load(SPEC, path, ivf_rows=IVF_ROWS)


def test_a_crash_after_writing_the_faiss_file_keeps_the_old_pair(tmp_path: Path) -> None:
    index, path, queries = trained(tmp_path)
    before = index.search_batch(queries, 8)
    index.add(*rows_of(5, seed=3, first=500))
    elsewhere = tmp_path / "later" / path.name
    elsewhere.parent.mkdir()
    index.save(elsewhere)
    # the FAISS file of the later save lies beside the old pair, its npz never written
    shutil.copyfile(faiss_file(elsewhere), path.with_name(f"{path.name}.0123456789ab.faiss"))
    loaded = DescriptorIndex.load(SPEC, path, ivf_rows=IVF_ROWS)
    assert len(loaded) == 4000
    assert np.array_equal(loaded.search_batch(queries, 8)[1], before[1])
    loaded.save(path)  # the next save sweeps the orphan
    assert len(list(tmp_path.glob("*.faiss"))) == 1


def test_a_flat_index_saves_loads_and_changes_without_a_second_copy(tmp_path: Path) -> None:
    ids, rows = rows_of(100)
    index, brute = DescriptorIndex(SPEC), BruteIndex(SPEC)
    index.add(ids, rows)
    brute.add(ids, rows)
    path = tmp_path / "d.desc.npz"
    index.save(path)
    loaded = DescriptorIndex.load(SPEC, path)
    assert loaded.structure == "flat" and not loaded.mapped
    assert np.array_equal(loaded.search_batch(rows[::7], 3)[0], brute.search_batch(rows[::7], 3)[0])
    per_row = sum(p.stat().st_size for p in DescriptorFactory().files(path)) / len(rows)
    assert per_row < SPEC.row_width + 8 + 2  # the descriptor and its id, little else
    assert loaded.remove(np.array([10, 20])) == brute.remove(np.array([10, 20])) == 100
    more_ids, more_rows = rows_of(2, seed=4, first=200)
    loaded.add(more_ids, more_rows)
    brute.add(more_ids, more_rows)
    queries = np.vstack([rows[::7], more_rows[::9]])
    assert np.array_equal(loaded.search_batch(queries, 3)[0], brute.search_batch(queries, 3)[0])
    assert not np.isin(loaded.search_batch(queries, 3)[1], [10, 20]).any()


def test_the_collection_loads_its_trained_index_and_rebuilds_a_broken_one(tmp_path: Path) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for seed in range(8):
        scene(seed).save(folder / f"scene{seed}.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "signals": ["keypoints"]}) as opened:
        opened.index([folder])
        signals = {"keypoints": opened.signals["keypoints"]}

        def indexes() -> IndexSet:  # the descriptor index turns IVF past 1,000 rows here
            made = DescriptorFactory(ivf_rows=1000)
            return IndexSet(tmp_path / "idx", opened.catalog, signals, made, factories={"keypoints": made})

        signal = Keypoints()
        feature = signal.query(decode(encode(scene(3)), DecodeSettings(), None, Keypoints.input_size))
        query = signal.index_vectors(signal.index_rows(feature))
        first = indexes()
        built = first.get("keypoints")
        assert built.trainings == 1 and built.structure == "ivf"  # type: ignore[attr-defined]
        want = built.search_batch(query, 8)
        first.save()
        described = first.describe()["keypoints"]["bytes"]
        npz = tmp_path / "idx" / f"keypoints.v{SPEC.version}.desc.npz"
        assert described == sum(p.stat().st_size for p in DescriptorFactory().files(npz))
        loaded = indexes().get("keypoints")
        assert loaded.trainings == 0  # type: ignore[attr-defined]
        assert np.array_equal(loaded.search_batch(query, 8)[1], want[1])
        overwrite(faiss_file(npz), b"IBwF")  # cut short
        rebuilt = indexes().get("keypoints")
        assert rebuilt.trainings == 1  # type: ignore[attr-defined]
        assert np.array_equal(rebuilt.search_batch(query, 8)[1], want[1])
