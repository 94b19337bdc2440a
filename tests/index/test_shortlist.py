"""The FAISS hash index's shortlist: a prefix scan, then exact re-ranking (index/shortlist.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from lookalike.decode import decode
from lookalike.index import BruteIndex
from lookalike.index.faiss_backend import FaissFactory, FaissIndex
from lookalike.index.shortlist import SHARE_BITS, mirror_prefix, prefix_columns
from lookalike.settings import DecodeSettings, IndexSettings
from lookalike.signals.phash import PHash

SPEC = PHash.spec  # 576 bits, 72 bytes
WIDTH = SPEC.dim // 8
N = 6000
SHORT = 64  # 6000 codes > 50 x 64 + 4 x k: searches of a few rows go through the shortlist


def near(rng: np.random.Generator, rows: np.ndarray, share: float) -> np.ndarray:
    """``rows`` with a ``share`` of their bits flipped."""
    flips = np.packbits(rng.random((len(rows), SPEC.dim)) < share, axis=1)
    return np.asarray(rows ^ flips, dtype=np.uint8)


@pytest.fixture
def pair() -> tuple[FaissIndex, BruteIndex, np.ndarray]:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (N, WIDTH), dtype=np.uint8)
    ids = np.arange(100, 100 + N, dtype=np.int64)
    index = FaissFactory(IndexSettings(hash_shortlist=SHORT)).create(SPEC, 1)
    reference = BruteIndex(SPEC)
    index.add(ids, codes)
    reference.add(ids, codes)
    return index, reference, codes


def test_prefix_is_the_low_frequencies_an_image_shares_with_its_mirror() -> None:
    cols = prefix_columns(WIDTH)
    # phash is 24 rows of 3 bytes: a column prefix takes the first two bytes of rows 0-7
    assert sorted(cols.tolist()) == sorted(3 * r + c for r in range(8) for c in range(2))
    assert prefix_columns(8).tolist() == list(range(8))  # a short code: all of it
    rng = np.random.default_rng(4)
    grid = rng.random((24, 24)) > 0.5  # a hash's bits, row by row
    mirrored = grid.copy()
    mirrored[:, 1::2] = ~grid[:, 1::2]  # the odd horizontal frequencies flip (the median kept)
    a, b = (mirror_prefix(np.packbits(g.ravel())[None, :]) for g in (grid, mirrored))
    assert a.shape == (1, 16) and np.array_equal(a, b)
    want = np.packbits(grid[:16, 0:16:2].ravel())  # even frequencies 0-14 of rows 0-15
    assert np.array_equal(a[0], want)


def test_near_codes_are_found_exactly_through_the_shortlist(
    pair: tuple[FaissIndex, BruteIndex, np.ndarray],
) -> None:
    index, reference, codes = pair
    rng = np.random.default_rng(1)
    source = rng.choice(N, 20, replace=False)
    for share in (0.05, 0.15, 0.25):  # a re-encoded copy is ~5% off, a cropped one up to ~25%
        queries = near(rng, codes[source], share)
        for row in range(0, 20, 2):  # two rows a query, as the planner sends them
            assert index._shortlisted(2, 10)
            got_d, got_i = index.search_batch(queries[row : row + 2], 10)
            want_d, want_i = reference.search_batch(queries[row : row + 2], 10)
            assert got_i[:, 0].tolist() == want_i[:, 0].tolist() == (source[row : row + 2] + 100).tolist()
            assert np.array_equal(got_d[:, 0], want_d[:, 0])
            # every result is a true distance, nearest first
            assert np.all(np.diff(got_d, axis=1) >= 0)
            for r in range(2):
                exact = np.unpackbits(codes[got_i[r] - 100] ^ queries[row + r], axis=1).sum(axis=1)
                assert np.array_equal(exact, got_d[r])


def test_shortlist_follows_adds_and_removals_and_a_reload(
    pair: tuple[FaissIndex, BruteIndex, np.ndarray], tmp_path: Path
) -> None:
    index, _, codes = pair
    rng = np.random.default_rng(2)
    index.search_batch(codes[:2], 5)  # builds the prefixes
    added = rng.integers(0, 256, (300, WIDTH), dtype=np.uint8)
    index.add(np.arange(10_000, 10_300), added)
    _, found = index.search_batch(near(rng, added[[7, 250]], 0.1), 1)
    assert found[:, 0].tolist() == [10_007, 10_250]
    assert index.remove(np.arange(100, 1100)) == 1000  # the codes after them move down
    _, found = index.search_batch(near(rng, codes[[500, 3000]], 0.1), 1)
    assert found[0, 0] != 600 and found[1, 0] == 3100
    index.add(np.array([600]), codes[500:501])  # back again
    _, found = index.search_batch(near(rng, codes[[500, 3000]], 0.1), 1)
    assert found[:, 0].tolist() == [600, 3100]
    path = tmp_path / "phash.faiss"
    index.save(path)
    loaded = FaissFactory(IndexSettings(hash_shortlist=SHORT)).load(SPEC, path, 1)
    assert len(loaded) == len(index) and loaded._shortlisted(2, 10)
    _, found = loaded.search_batch(near(rng, added[[1, 299]], 0.1), 1)
    assert found[:, 0].tolist() == [10_001, 10_299]


def test_many_rows_large_k_or_a_zero_setting_scan_everything(
    pair: tuple[FaissIndex, BruteIndex, np.ndarray],
) -> None:
    index, reference, codes = pair
    queries = np.random.default_rng(3).integers(0, 256, (40, WIDTH), dtype=np.uint8)
    assert not index._shortlisted(40, 10)  # a duplicate search's batch
    assert not index._shortlisted(2, SHORT)  # k close to the shortlist
    got_d, _ = index.search_batch(queries, 10)
    want_d, _ = reference.search_batch(queries, 10)
    assert np.array_equal(got_d, want_d)  # exhaustive: exact even far away
    exact = FaissFactory(IndexSettings(hash_shortlist=0)).create(SPEC, 1)
    exact.add(np.arange(100, 100 + N), codes)
    assert not exact._shortlisted(2, 10)
    got_d, _ = exact.search_batch(queries[:2], 10)
    assert np.array_equal(got_d, want_d[:2])


def test_a_mirrored_copy_is_found_from_one_scan_of_both_rows(
    pair: tuple[FaissIndex, BruteIndex, np.ndarray],
) -> None:
    index, reference, _ = pair
    rng = np.random.default_rng(5)
    signal, settings = PHash(), DecodeSettings()
    pictures = []
    for i in range(6):
        pixels = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8).repeat(16, axis=0).repeat(16, axis=1)
        pictures.append(Image.fromarray(pixels, "RGB"))
        index.add(np.array([50_000 + i]), signal.extract(decode(_png(pictures[-1]), settings))[:1])
        reference.add(np.array([50_000 + i]), signal.extract(decode(_png(pictures[-1]), settings))[:1])
    short = index._shortlist
    assert short is not None
    for i, picture in enumerate(pictures):
        rows = signal.query(decode(_png(ImageOps.mirror(picture)), settings))  # the mirror image
        prefixes = mirror_prefix(rows)
        assert np.unpackbits(prefixes[0] ^ prefixes[1]).sum() <= SHARE_BITS  # one scan serves both
        got_d, got_i = index.search_batch(rows, 5)
        want_d, want_i = reference.search_batch(rows, 5)
        assert got_i[1, 0] == want_i[1, 0] == 50_000 + i and got_d[1, 0] == want_d[1, 0]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
