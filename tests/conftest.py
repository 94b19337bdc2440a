"""Shared fixtures: tiny real images, made by the tests themselves."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import lookalike


def photo(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A smooth, photo-like RGB image that differs clearly from other seeds."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    channels = []
    for _ in range(3):
        a, b, c, d = rng.uniform(0.5, 4.0, 4)
        phase = rng.uniform(0, 6.28)
        channels.append(
            np.sin(a * x / w * 3.1 + phase) * np.cos(b * y / h * 3.1) + 0.5 * np.sin(c * x / w + d * y / h)
        )
    pixels = np.stack(channels, axis=2)
    for _ in range(6):  # a few blobs give local structure
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, 60)
        mask = ((x - cx) ** 2 + (y - cy) ** 2) < r * r
        pixels[mask] = rng.uniform(-1.5, 1.5, 3)
    pixels += rng.normal(0, 0.03, pixels.shape)  # a little grain: every seed's bytes differ
    pixels = (pixels - pixels.min()) / (np.ptp(pixels) or 1.0)
    return Image.fromarray((pixels * 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def make_photo() -> Callable[..., Image.Image]:
    return photo


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """Eight distinct photos as PNG and JPEG files in nested folders."""
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for seed in range(8):
        target = folder / ("nested" if seed % 2 else "") / f"photo{seed}.{'png' if seed % 3 else 'jpg'}"
        photo(seed).save(target)
    return folder


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[lookalike.Collection]:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as opened:
        yield opened


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (see tests/throwaway_postgres.py)."""
    import throwaway_postgres as postgres

    try:
        url, name = postgres.new_database()
    except Exception as exc:  # no server here: a developer's machine without PostgreSQL
        if os.environ.get("CI_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"no PostgreSQL: {exc}")
    yield url
    postgres.drop_database(name)
