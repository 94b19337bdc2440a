"""Sprite sheets cut into tiles at ingest: each tile an image that points at its sheet."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

import lookalike
from lookalike.cli.main import app
from lookalike.sources.tiles import Grid, find_grid, split

from conftest import photo

TILE, GAP, COLUMNS, ROWS = 16, 1, 6, 4


def sprite(seed: int) -> Image.Image:
    """A 16x16 sprite: a few flat-coloured blocks and a transparent background."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((TILE, TILE, 4), dtype=np.uint8)
    for _ in range(5):
        x, y = rng.integers(0, TILE - 3, 2)
        w, h = rng.integers(2, 8, 2)
        pixels[y : y + h, x : x + w] = [*rng.integers(0, 256, 3), 255]
    return Image.fromarray(pixels, "RGBA")


def sheet(gap: int = GAP, empty: tuple[int, ...] = (5, 11)) -> Image.Image:
    """COLUMNS x ROWS sprites, ``gap`` transparent pixels apart; the cells in ``empty`` left empty."""
    step = TILE + gap
    image = Image.new("RGBA", (COLUMNS * step - gap, ROWS * step - gap), (0, 0, 0, 0))
    for cell in range(COLUMNS * ROWS):
        if cell not in empty:
            image.paste(sprite(cell), ((cell % COLUMNS) * step, (cell // COLUMNS) * step))
    return image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_grid_found_only_with_separators() -> None:
    assert find_grid(np.asarray(sheet())) == Grid(16, 16, 1)
    assert find_grid(np.asarray(sheet(gap=0))) is None  # packed: needs the grid named
    assert find_grid(np.asarray(photo(1, (203, 186)).convert("RGBA"))) is None  # a sheet's size, not a sheet
    tiles = split(png(sheet()), "auto")
    assert len(tiles) == COLUMNS * ROWS - 2  # the empty cells are skipped
    assert tiles[1][0] == (17, 0, 16, 16)
    assert len(split(png(sheet(gap=0)), "16x16")) == COLUMNS * ROWS - 2
    assert split(png(sheet(gap=0)), "auto") == []


def test_sprite_found_as_a_tile_of_its_sheet(tmp_path: Path) -> None:
    folder = tmp_path / "art"
    folder.mkdir()
    sheet().save(folder / "tilemap.png")
    photo(2).save(folder / "photo.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "tiles": "auto"}) as collection:
        report = collection.index([folder])
        assert report.images_new == 2 + COLUMNS * ROWS - 2
        sheet_id = next(
            i
            for i in collection.catalog.images.ids_at(str((folder / "tilemap.png").resolve()))
            if collection.catalog.images.occurrences([i])[i][0].box is None
        )
        # the sprite of cell 9 (column 3, row 1), enlarged 4x as someone might post it
        query = sprite(9).resize((64, 64), Image.Resampling.NEAREST)
        first = collection.search(png(query), k=3)[0]
        place = first.occurrences[0]
        assert place.box == (3 * 17, 17, 16, 16) and place.parent_id == sheet_id
        assert first.location == f"tile (51, 17, 16, 16) of sheet {(folder / 'tilemap.png').resolve()}"
        assert first.as_dict()["occurrences"][0]["tile_of"] == first.location
        assert collection.info(first.image_id)["occurrences"][0]["parent_id"] == sheet_id
        photo_ids = collection.catalog.images.ids_at(str((folder / "photo.png").resolve()))
        assert len(photo_ids) == 1  # a photo is never cut
        from lookalike.api import create_app

        from asgi_client import serving

        with serving(create_app(collection)) as client:
            page = client.get(f"/images/{first.image_id}").text
        assert "tile (51, 17, 16, 16) of" in page and f'href="/images/{sheet_id}"' in page
    (tmp_path / "q.png").write_bytes(png(query))
    result = CliRunner().invoke(
        app, ["search", str(tmp_path / "q.png"), "--data", str(tmp_path / "data"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["occurrences"][0]["tile_of"].startswith(
        "tile (51, 17, 16, 16) of sheet"
    )
    piped = CliRunner().invoke(app, ["search", str(tmp_path / "q.png"), "--data", str(tmp_path / "data")])
    assert "\ttile (51, 17, 16, 16) of sheet " in piped.stdout.splitlines()[0]


def test_a_sheet_read_again_keeps_its_tiles(tmp_path: Path) -> None:
    """A sheet whose file changed (touched) but whose bytes did not is not cut again: its tiles stay."""
    folder = tmp_path / "art"
    folder.mkdir()
    sheet().save(folder / "tilemap.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "tiles": "auto"}) as collection:
        collection.index([folder])
        before = collection.stats()["occurrences"]
        os.utime(folder / "tilemap.png", (1, 1))
        report = collection.index([folder])
        assert report.files_read == 1 and collection.stats()["occurrences"] == before


def test_tiles_off_by_default(tmp_path: Path) -> None:
    folder = tmp_path / "art"
    folder.mkdir()
    sheet().save(folder / "tilemap.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as collection:
        assert collection.index([folder]).images_new == 1
