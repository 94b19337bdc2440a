"""Shared fixtures: tiny real images, made by the tests themselves."""

from __future__ import annotations

import io
import math
import os
import zipfile
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

import lookalike

# The catalog on each dialect (``catalog``, ``opener``), and the served art site and its ``site``
# fixture, shared by the catalog, crawl and cluster tests.
pytest_plugins = ["catalogs", "fake_site"]

#: The signals a collection computes by default here: keypoints too where OpenCV is installed.
DEFAULT_SIGNALS = ["phash", "colour", "junk", *(["keypoints"] if find_spec("cv2") else [])]


def global_only(counts: dict[str, int]) -> dict[str, int]:
    """Counts per index (``rebuild``, ``stats``) without the keypoints index, whose count is of
    descriptors (a few hundred an image), not of images."""
    return {name: n for name, n in counts.items() if name != "keypoints"}


@pytest.fixture(scope="session", autouse=True)
def models_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Models made or installed by the tests (the 8-bit OCR detector) go to a folder of the
    session, never the user's ~/.cache; made once, shared by every test."""
    folder = tmp_path_factory.mktemp("models")
    before = os.environ.get("LOOKALIKE_MODELS__FOLDER")
    os.environ["LOOKALIKE_MODELS__FOLDER"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("LOOKALIKE_MODELS__FOLDER", None)
    else:
        os.environ["LOOKALIKE_MODELS__FOLDER"] = before


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


Box = tuple[float, float, float, float]


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like background with shapes and strokes: corners for keypoints, as in real scenes."""
    image = photo(seed, size)
    rng = np.random.default_rng(seed + 1000)
    draw = ImageDraw.Draw(image)
    w, h = size
    for _ in range(int(60 * w * h / (640 * 480))):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(5, 40)
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.rectangle([x, y, x + r, y + r * rng.uniform(0.3, 2)], fill=colour)
        elif kind == 1:
            draw.ellipse([x, y, x + r, y + r], fill=colour)
        else:
            end = (x + rng.uniform(-80, 80), y + rng.uniform(-80, 80))
            draw.line([(x, y), end], fill=colour, width=int(rng.integers(1, 5)))
    return image


def centred_box(size: tuple[int, int], area: float, shift: tuple[float, float] = (0.0, 0.0)) -> Box:
    w, h = size
    side = math.sqrt(area)
    cw, ch = w * side, h * side
    cx, cy = w / 2 + shift[0] * w, h / 2 + shift[1] * h
    return (round(cx - cw / 2), round(cy - ch / 2), round(cx + cw / 2), round(cy + ch / 2))


def sign(lines: list[str], seed: int, size: tuple[int, int] = (560, 320)) -> Image.Image:
    """A photo-like background with a light panel per line, each line in 36 px text."""
    image = photo(seed, size).convert("RGB")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for n, line in enumerate(lines):
        y = 40 + n * 110
        draw.rectangle((24, y - 12, size[0] - 24, y + 58), fill=(240, 236, 225))
        draw.text((40, y), line, fill=(25, 25, 30), font=font)
    return image


def zip_of(members: dict[str, bytes]) -> bytes:
    """A zip archive (deflated) of ``members``: name -> bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
