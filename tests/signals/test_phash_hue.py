"""Recoloured pixel art: a few-colour query is also hashed with its hue turned, so a sprite whose
palette was turned (a palette swap) is found as a copy of its source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import lookalike
from lookalike.decode import decode
from lookalike.search.tiers import Tier
from lookalike.settings import DecodeSettings
from lookalike.signals.phash import HUE_STEPS, PHash, hue_turned

from conftest import encode, photo

WITHOUT_KEYPOINTS = ["phash", "colour", "junk"]  # the hash alone decides, quickly


def sprite(seed: int, size: int = 16) -> Image.Image:
    """A 16x16 tile of five saturated colours in blocks (opaque: no border to trim)."""
    rng = np.random.default_rng(seed)
    hues = rng.uniform(0, 255, 5)
    palette = [
        Image.new("HSV", (1, 1), (int(h), 200, int(v))).convert("RGB").getpixel((0, 0))
        for h, v in zip(hues, rng.uniform(90, 255, 5), strict=True)
    ]
    pixels = np.zeros((size, size, 4), dtype=np.uint8)
    pixels[:, :] = (*palette[0], 255)
    for _ in range(9):
        x, y = rng.integers(0, size - 3, 2)
        w, h = rng.integers(2, 8, 2)
        colour = palette[int(rng.integers(0, 5))]
        pixels[y : y + h, x : x + w] = (*colour, 255)  # type: ignore[misc]
    return Image.fromarray(pixels, "RGBA")


def hue_shifted(image: Image.Image, turn: float) -> Image.Image:
    """``image`` with its hue turned by ``turn`` of a circle (saturation, value, alpha kept)."""
    alpha = image.getchannel("A")
    h, s, v = image.convert("RGB").convert("HSV").split()
    h = h.point(lambda x: (x + round(256 * turn)) % 256)
    out = Image.merge("HSV", (h, s, v)).convert("RGB")
    out.putalpha(alpha)
    return out


def decoded(image: Image.Image) -> lookalike.decode.DecodedImage:
    return decode(encode(image, "PNG"), DecodeSettings())


def test_a_few_colour_image_gets_hue_turned_views_and_a_photo_none() -> None:
    assert len(hue_turned(decoded(sprite(1)))) == HUE_STEPS - 1
    assert hue_turned(decoded(photo(1))) == []  # thousands of colours
    assert hue_turned(decoded(sprite(1).convert("LA").convert("RGBA"))) == []  # grey: no hue to turn


def test_the_turned_back_row_is_near_the_stored_hash() -> None:
    signal = PHash()
    original = decoded(sprite(2))
    stored = signal.extract(original)[0]
    query = signal.query(decoded(hue_shifted(sprite(2), 0.25)))
    bits = np.unpackbits(query ^ stored, axis=1).sum(axis=1)
    # the query, its mirror, the border rows, the turns of the whole tile and of the inside of its border
    assert len(query) == 2 + 2 + 2 * (HUE_STEPS - 1)
    assert bits.argmin() >= 4 and bits.min() < 0.5 * bits[0]  # a turned row, much nearer
    assert "hue turned" in signal.describe_row(int(bits.argmin()))
    assert len(PHash(hue_turns=False).query(decoded(hue_shifted(sprite(2), 0.25)))) == 4  # no turns


@pytest.mark.parametrize("turn", [0.25, 0.5])
def test_a_recoloured_sprite_is_found_as_a_copy(tmp_path: Path, turn: float) -> None:
    folder = tmp_path / "sprites"
    folder.mkdir()
    for seed in range(16):
        sprite(seed).save(folder / f"sprite{seed}.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "signals": WITHOUT_KEYPOINTS}) as opened:
        opened.index([folder])
        target = opened.catalog.images.ids_at(str((folder / "sprite4.png").resolve()))[0]
        found = opened.search(encode(hue_shifted(sprite(4), turn), "PNG"), k=3)
    assert found[0].image_id == target
    assert found[0].match is not None and found[0].match.tier == Tier.COPY
    assert "hue turned" in found[0].match.evidence
    assert distance(found, target) < 50
    with lookalike.open(tmp_path / "data", search={"hue_turns": False}) as opened:
        before = opened.search(encode(hue_shifted(sprite(4), turn), "PNG"), k=16, collapse=False)
    assert distance(before, target) > 150  # without the turns the hash is far off


def distance(results: list[lookalike.Result], image_id: int) -> float:
    """The phash distance of ``image_id`` among ``results``."""
    found = next(r for r in results if r.image_id == image_id)
    value = next(e.distance for e in found.why if e.signal == "phash")
    assert value is not None
    return value


def tile(seed: int, size: int = 18, changed: int | None = None) -> Image.Image:
    """An 18x18 tile of a pack: blocks of four colours on a transparent ground with a margin (so
    ingest trims it as a border); ``changed`` recolours that one block (a near twin in the pack)."""
    rng = np.random.default_rng(seed)
    palette = [
        Image.new("HSV", (1, 1), (int(h), 150, int(v))).convert("RGB").getpixel((0, 0))
        for h, v in zip(rng.uniform(0, 255, 4), rng.uniform(100, 255, 4), strict=True)
    ]
    pixels = np.zeros((size, size, 4), dtype=np.uint8)
    for block in range(7):
        x, y = rng.integers(3, size - 6, 2)
        w, h = rng.integers(2, 6, 2)
        colour = palette[int(rng.integers(0, 4))] if block != changed else palette[(block + 1) % 4]
        pixels[y : y + h, x : x + w] = (*colour, 255)  # type: ignore[misc]
    return Image.fromarray(pixels, "RGBA")


def test_turned_rows_are_made_from_the_palette_at_the_tiles_own_size() -> None:
    """An 18-pixel tile is enlarged and averaged to the hash's 96-pixel view: turning its palette
    before that (not the averaged view) gives the stored hash back, border and all."""
    signal = PHash()
    for seed in range(6):
        stored = signal.extract(decoded(tile(seed)))[0]
        query = signal.query(decoded(hue_shifted(tile(seed), 0.25)))
        bits = np.unpackbits(query ^ stored, axis=1).sum(axis=1)
        assert bits[4:].min() <= 4, seed  # a turned row is all but the stored hash


def test_a_turned_row_counts_farther_only_by_as_much_as_it_is_off() -> None:
    signal = PHash()
    d = np.array([[40.0], [50.0], [40.0], [50.0], [2.0], [20.0], [120.0]])
    assert signal.penalised(d)[:, 0].tolist() == [40, 50, 40, 50, 4, 40, 152]
    assert signal.penalised(d[:4]).tolist() == d[:4].tolist()  # no turned rows: as they are


def test_a_recoloured_tile_beats_its_twins_in_the_pack(tmp_path: Path) -> None:
    """Tiles of a pack come mirrored (a left and a right one) and with one block changed: as near to
    a recoloured copy by its own or mirrored rows as its source is (whose grey levels a hue turn
    may change little), so the turned-back row, a few bits off, must decide."""
    folder = tmp_path / "pack"
    folder.mkdir()
    seeds = range(6)
    for seed in seeds:
        tile(seed).save(folder / f"tile{seed}.png")
        tile(seed).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / f"tile{seed}_left.png")
        for block in (2, 5):
            tile(seed, changed=block).save(folder / f"tile{seed}_twin{block}.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "signals": WITHOUT_KEYPOINTS}) as opened:
        opened.index([folder])
        for seed in seeds:
            target = opened.catalog.images.ids_at(str((folder / f"tile{seed}.png").resolve()))[0]
            found = opened.search(encode(hue_shifted(tile(seed), 0.25), "PNG"), k=3, collapse=False)
            assert found[0].image_id == target, seed
            assert found[0].match is not None and found[0].match.tier == Tier.COPY


def test_another_tile_with_the_same_palette_is_not_a_copy(tmp_path: Path) -> None:
    """The hue turns find recoloured copies, not every tile drawn in the same colours."""
    folder = tmp_path / "pack"
    folder.mkdir()
    for seed in range(8):
        sprite(seed).save(folder / f"sprite{seed}.png")
    rng = np.random.default_rng(99)
    source = np.asarray(sprite(3))
    palette = np.unique(source.reshape(-1, 4), axis=0)
    other = palette[rng.integers(0, len(palette), (4, 4))].repeat(4, axis=0).repeat(4, axis=1)
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "signals": WITHOUT_KEYPOINTS}) as opened:
        opened.index([folder])
        for turn in (0.0, 0.25):
            found = opened.search(encode(hue_shifted(Image.fromarray(other, "RGBA"), turn), "PNG"), k=3)
            assert all(r.match is None or r.match.tier not in (Tier.COPY, Tier.EXACT) for r in found)
