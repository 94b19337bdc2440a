from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from lookalike.decode import decode
from lookalike.settings import DecodeSettings
from lookalike.signals import Kind, Metric, distances
from lookalike.signals.colour import Colour, histogram
from lookalike.signals.phash import PHash, coefficients

from conftest import encode, photo

SETTINGS = DecodeSettings()


def features(signal: PHash | Colour, image: Image.Image, fmt: str = "PNG") -> np.ndarray:
    return signal.extract(decode(encode(image.convert("RGB"), fmt), SETTINGS))


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(distances(Metric.HAMMING, a[None, :], b[None, :])[0, 0])


def test_phash_shape_and_spec() -> None:
    signal = PHash()
    rows = features(signal, photo(1))
    assert signal.spec.kind is Kind.BINARY and signal.spec.dim == 576
    assert rows.shape == (2, 72) and rows.dtype == np.uint8
    assert signal.decode(signal.encode(rows)).tolist() == rows.tolist()


def test_phash_is_close_for_copies_and_far_for_other_images() -> None:
    signal, original = PHash(), photo(1)
    h = features(signal, original)[0]
    copies = [
        original.resize((160, 120)),
        ImageEnhance.Brightness(original).enhance(1.3),
        ImageOps.grayscale(original),
    ]
    for copy in copies:
        assert hamming(h, features(signal, copy)[0]) < 80
    assert hamming(h, features(signal, original, "JPEG")[0]) < 40
    for seed in range(2, 6):
        assert hamming(h, features(signal, photo(seed))[0]) > 150


def test_phash_mirror_row_matches_the_mirrored_image() -> None:
    signal, original = PHash(), photo(3)
    rows = features(signal, original)
    mirrored = features(signal, ImageOps.mirror(original))[0]
    assert hamming(rows[0], mirrored) > 150  # the plain hash misses a mirror...
    assert hamming(rows[1], mirrored) < 20  # ...the stored mirror variant finds it


def test_phash_dct_matches_a_reference_dct() -> None:
    grey = np.random.default_rng(0).uniform(0, 255, (96, 96)).astype(np.float32)
    n = 96
    k = np.arange(24)[:, None]
    x = np.arange(n)[None, :]
    basis = np.cos(np.pi * (2 * x + 1) * k / (2 * n))
    scale = np.where(np.arange(24) == 0, np.sqrt(1 / n), np.sqrt(2 / n))[:, None]
    expected = (scale * basis) @ grey @ (scale * basis).T
    assert np.allclose(coefficients(grey), expected, atol=1e-2)


def test_dihedral_variants_find_rotations() -> None:
    signal, original = PHash("dihedral"), photo(4, (240, 240))
    queries = signal.query(decode(encode(original), SETTINGS))
    assert queries.shape == (8, 72)
    rotated = features(signal, original.rotate(90))[0]
    assert min(hamming(q, rotated) for q in queries) < 20


def test_colour_is_compact_and_calibrated() -> None:
    signal = Colour()
    red = features(signal, Image.new("RGB", (50, 50), (220, 20, 20)))
    blue = features(signal, Image.new("RGB", (50, 50), (20, 20, 220)))
    assert red.shape == (1, 64) and red.dtype == np.uint8
    vectors = signal.index_vectors(np.vstack([red, blue]))
    same = distances(Metric.L2, vectors[:1], vectors[:1])[0, 0]
    different = distances(Metric.L2, vectors[:1], vectors[1:])[0, 0]
    assert same < 1e-3 and abs(different - 1.0) < 1e-2  # Hellinger distance of disjoint histograms is 1
    assert signal.similarity(np.array([0.05]))[0] > 0.9 > 0.1 > signal.similarity(np.array([0.5]))[0]


def test_colour_histogram_sums_to_one_and_separates_greys() -> None:
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [128, 128, 128], [255, 0, 0]]], dtype=np.uint8)
    shares = histogram(pixels)
    assert abs(shares.sum() - 1) < 1e-9
    assert (shares > 0).sum() == 4
