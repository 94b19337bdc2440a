"""Thumbnails: rendered at ingest (size limits, JPEG or PNG), kept by content hash in thumbs.sqlite
or in a shared catalog, and read back through the collection."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import lookalike
from lookalike.catalog import open_catalog
from lookalike.catalog.thumbnails import CatalogThumbs, Thumbs, ThumbStore
from lookalike.decode import decode
from lookalike.ingest.thumbnails import render
from lookalike.settings import load_settings

from conftest import encode, photo


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def rendered(picture: Image.Image, size: int, fmt: str = "PNG") -> Image.Image:
    return opened(render(decode(encode(picture, fmt), load_settings().decode), size))


# ---- render ---------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "expected"), [((800, 600), (240, 180)), ((300, 1000), (72, 240))])
def test_a_large_photo_becomes_a_jpeg_of_the_thumbnail_size(
    source: tuple[int, int], expected: tuple[int, int]
) -> None:
    thumb = rendered(photo(1, source), 240)
    assert thumb.format == "JPEG" and thumb.size == expected


def test_a_photo_a_little_larger_than_the_size_is_kept_at_its_own_size() -> None:
    thumb = rendered(photo(2, (280, 210)), 240)  # within 1.25 times the size: not resized again
    assert thumb.format == "JPEG" and thumb.size == (280, 210)


def test_a_small_image_stays_png_at_its_own_size_with_its_own_pixels() -> None:
    sprite = photo(3, (16, 12))
    thumb = rendered(sprite, 240)
    assert thumb.format == "PNG" and thumb.size == (16, 12)
    assert np.array_equal(np.asarray(thumb.convert("RGB")), np.asarray(sprite))


def test_png_is_for_images_at_most_half_the_size() -> None:
    assert rendered(photo(4, (120, 90)), 240).format == "PNG"  # 120 * 2 <= 240
    assert rendered(photo(4, (121, 90)), 240).format == "JPEG"


def test_a_jpeg_decoded_at_a_reduced_scale_is_still_bounded() -> None:
    data = encode(photo(5, (1600, 1200)), "JPEG", quality=90)
    image = decode(data, load_settings().decode, need=240)  # the ingest decode size
    thumb = opened(render(image, 240))
    assert thumb.format == "JPEG" and max(thumb.size) <= 300 and max(thumb.size) >= 240


# ---- the stores -----------------------------------------------------------------------


@pytest.fixture(params=["file", "sqlite-catalog", "postgresql-catalog"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Thumbs]:
    if request.param == "file":
        made: Thumbs = ThumbStore(tmp_path / "thumbs.sqlite")
        yield made
        made.close()
        return
    where = (
        str(tmp_path / "c.sqlite")
        if request.param == "sqlite-catalog"
        else request.getfixturevalue("postgres_url")
    )
    catalog = open_catalog(where, tmp_path)
    yield CatalogThumbs(catalog.db)
    catalog.close()


def test_a_store_round_trips_thumbnails_by_hash(store: Thumbs) -> None:
    store.put([("a" * 64, b"first"), ("b" * 64, b"second")])
    assert store.get("a" * 64) == b"first" and store.get("b" * 64) == b"second"
    assert store.get("c" * 64) is None


def test_a_stored_thumbnail_is_kept_when_put_again(store: Thumbs) -> None:
    store.put([("a" * 64, b"first")])
    store.put([("a" * 64, b"other"), ("d" * 64, b"new")])
    assert store.get("a" * 64) == b"first" and store.get("d" * 64) == b"new"
    store.put([])  # nothing to put is no error
    assert store.get("d" * 64) == b"new"


def test_items_pages_through_every_thumbnail_in_hash_order(store: Thumbs) -> None:
    rows = [(f"{i:064x}", bytes([i]) * 3) for i in range(7)]
    store.put(reversed(rows))
    pages = list(store.items(batch=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [row for page in pages for row in page] == rows


def test_the_file_store_keeps_thumbnails_across_openings(tmp_path: Path) -> None:
    first = ThumbStore(tmp_path / "thumbs.sqlite")
    first.put([("e" * 64, b"kept")])
    first.close()
    again = ThumbStore(tmp_path / "thumbs.sqlite")
    try:
        assert again.get("e" * 64) == b"kept"
    finally:
        again.close()


# ---- through a collection -------------------------------------------------------------


def test_indexed_images_have_their_thumbnails(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    photo(6, (640, 480)).save(folder / "big.png")
    photo(7, (24, 24)).save(folder / "sprite.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "thumbnail_size": 128}) as collection:
        collection.index([folder])
        assert isinstance(collection.thumbs, ThumbStore) and (tmp_path / "data" / "thumbs.sqlite").exists()
        [big] = collection.catalog.images.ids_at(str((folder / "big.png").resolve()))
        [sprite] = collection.catalog.images.ids_at(str((folder / "sprite.png").resolve()))
        thumb = opened(collection.thumbnail(big) or b"")
        assert thumb.format == "JPEG" and thumb.size == (128, 96)
        small = opened(collection.thumbnail(sprite) or b"")
        assert small.format == "PNG" and small.size == (24, 24)
        image = collection.catalog.images.get(big)
        assert image is not None and collection.thumbs.get(image.sha256) == collection.thumbnail(big)


def test_no_thumbnails_when_the_size_is_zero(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    photo(8).save(folder / "a.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "thumbnail_size": 0}) as collection:
        collection.index([folder])
        [image_id] = collection.catalog.images.ok_ids()
        assert collection.thumbnail(image_id) is None


def test_the_thumbnail_of_an_unknown_image_is_not_found(collection: lookalike.Collection) -> None:
    with pytest.raises(lookalike.NotFoundError):
        collection.thumbnail(12345)


def test_a_shared_catalog_keeps_thumbnails_in_the_catalog(tmp_path: Path, postgres_url: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    photo(9, (400, 300)).save(folder / "a.png")
    with lookalike.open(tmp_path / "data", catalog=postgres_url, ingest={"workers": 1}) as collection:
        collection.index([folder])
        assert isinstance(collection.thumbs, CatalogThumbs)
        [image_id] = collection.catalog.images.ok_ids()
        assert opened(collection.thumbnail(image_id) or b"").size == (240, 180)
    assert not (tmp_path / "data" / "thumbs.sqlite").exists()
    other = open_catalog(postgres_url, tmp_path / "elsewhere")  # another machine sees them
    try:
        image = other.images.get(image_id)
        assert image is not None and CatalogThumbs(other.db).get(image.sha256) is not None
    finally:
        other.close()
