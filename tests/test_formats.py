"""HEIF (HEIC), AVIF and JPEG XL: decoded upright through their plugins, or skipped with the extra to install."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike import Collection
from lookalike.decode import FORMATS_EXTRA, decode, formats
from lookalike.errors import DecodeError, Reason
from lookalike.settings import DecodeSettings

from conftest import encode, photo

SETTINGS = DecodeSettings()
AVAILABLE = formats()  # registers the installed plugins, so that Pillow can also write these formats
PLUGIN = {"HEIF": "pillow-heif", "AVIF": "Pillow >= 11.3 or pillow-avif-plugin", "JXL": "pillow-jxl-plugin"}
SUFFIX = {"HEIF": ".heic", "AVIF": ".avif", "JXL": ".jxl"}


def needs(fmt: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not AVAILABLE[fmt],
        reason=f"{fmt} cannot be read here: {PLUGIN[fmt]} is not installed ({FORMATS_EXTRA})",
    )


def written(fmt: str, image: Image.Image, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, fmt, quality=90, exif=exif.tobytes())


def marked(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """A photo with a red block at its top left, to see which way up it came out."""
    image = photo(3, size)
    image.paste((255, 0, 0), (0, 0, size[0] // 3, size[1] // 3))
    return image


@pytest.mark.parametrize("fmt", [pytest.param(f, marks=needs(f)) for f in ("HEIF", "AVIF", "JXL")])
def test_format_decodes_like_the_same_picture_as_png(fmt: str) -> None:
    image = decode(written(fmt, photo(1)), SETTINGS)
    assert (image.format, image.width, image.height) == (fmt, 320, 240)
    reference = decode(encode(photo(1)), SETTINGS).rgb(64).astype(int)
    assert np.abs(image.rgb(64).astype(int) - reference).mean() < 8  # lossy, but the same picture


@pytest.mark.parametrize("fmt", [pytest.param(f, marks=needs(f)) for f in ("HEIF", "AVIF", "JXL")])
def test_exif_orientation_is_applied_as_for_jpeg(fmt: str) -> None:
    jpeg = decode(written("JPEG", marked(), orientation=6), SETTINGS)
    other = decode(written(fmt, marked(), orientation=6), SETTINGS)
    assert (other.width, other.height) == (jpeg.width, jpeg.height) == (200, 300)
    red = other.rgb(30, 45)[:10, -6:]  # orientation 6: the top left turns to the top right
    assert red[..., 0].mean() > 200 and red[..., 1].mean() < 60
    assert np.abs(other.rgb(30, 45).astype(int) - jpeg.rgb(30, 45).astype(int)).mean() < 12


@pytest.mark.parametrize("fmt", [pytest.param(f, marks=needs(f)) for f in ("HEIF", "AVIF", "JXL")])
def test_without_its_plugin_a_format_is_skipped_naming_the_extra(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = written(fmt, photo(2))
    monkeypatch.delitem(Image.OPEN, fmt)  # as where the plugin is not installed
    with pytest.raises(DecodeError) as caught:
        decode(data, SETTINGS, uri=f"x{SUFFIX[fmt]}")
    assert caught.value.reason is Reason.UNSUPPORTED_FORMAT
    assert fmt in caught.value.detail and "pip install 'lookalike[formats]'" in caught.value.detail
    assert formats()[fmt] is False


@needs("HEIF")
def test_a_folder_of_heic_and_avif_is_indexed_and_found_from_a_jpeg(
    collection: Collection, tmp_path: Path
) -> None:
    folder = tmp_path / "phone"
    folder.mkdir()
    (folder / "IMG_0001.heic").write_bytes(written("HEIF", photo(5)))
    (folder / "IMG_0002.jpg").write_bytes(written("JPEG", photo(6)))
    if AVAILABLE["AVIF"]:
        (folder / "IMG_0003.avif").write_bytes(written("AVIF", photo(7)))
    report = collection.index([folder])
    assert (report.images_new, report.failed) == (2 + AVAILABLE["AVIF"], 0)
    [best, *_] = collection.search(encode(photo(5), "JPEG", quality=60), k=3)
    assert best.location.endswith("IMG_0001.heic") and best.score > 0.8


@needs("HEIF")
def test_heic_without_the_plugin_is_recorded_with_why(
    collection: Collection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "phone"
    folder.mkdir()
    (folder / "IMG_0001.heic").write_bytes(written("HEIF", photo(5)))
    (folder / "IMG_0002.jpg").write_bytes(written("JPEG", photo(6)))
    monkeypatch.delitem(Image.OPEN, "HEIF")
    report = collection.index([folder])
    assert (report.images_new, report.failed) == (1, 1)
    assert report.failures == {"unsupported_format": 1}
    assert collection.stats()["failures_by_reason"] == {"unsupported_format": 1}
    [failure] = collection.catalog.images.failures()
    assert failure["uri"].endswith("IMG_0001.heic") and "lookalike[formats]" in failure["detail"]


def test_doctor_lists_the_formats(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lookalike.cli import app

    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    parts = {p["name"]: p for p in json.loads(result.output)}
    assert set(parts["formats"]["detail"].split(", ")) >= {"JPEG", "PNG", "GIF", "WEBP"}
    for fmt in ("HEIF", "AVIF", "JXL"):
        line = parts[f"format {fmt}"]
        assert line["ok"] is AVAILABLE[fmt] and line["fix"] == FORMATS_EXTRA
        assert (fmt in parts["formats"]["detail"].split(", ")) is AVAILABLE[fmt]
