"""Sprite sheets cut into tiles at ingest: each tile an image that points at its sheet."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from typer.testing import CliRunner

import lookalike
from lookalike.cli.main import app
from lookalike.sources.tiles import MAX_GRIDS, Grid, find_grid, packed_grids, split

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
    assert find_grid(np.asarray(sheet(gap=0))) is None  # packed: no separators
    assert find_grid(np.asarray(photo(1, (203, 186)).convert("RGBA"))) is None  # a sheet's size, not a sheet
    tiles = split(png(sheet()), "auto")
    assert len(tiles) == COLUMNS * ROWS - 2  # the empty cells are skipped
    assert tiles[1][0] == (17, 0, 16, 16)
    assert len(split(png(sheet(gap=0)), "16x16")) == COLUMNS * ROWS - 2


def test_packed_grid_found_without_a_setting() -> None:
    """A sheet packed with no gaps is cut by its likeliest grids, the true one among them."""
    packed = np.asarray(sheet(gap=0))
    assert Grid(16, 16) in packed_grids(packed) and len(packed_grids(packed)) <= MAX_GRIDS
    boxes = {box for box, _ in split(png(sheet(gap=0)), "auto")}
    cells = {((c % COLUMNS) * TILE, (c // COLUMNS) * TILE, TILE, TILE) for c in range(COLUMNS * ROWS)}
    assert cells - {(80, 0, 16, 16), (80, 16, 16, 16)} <= boxes  # every non-empty cell
    assert not boxes & {(80, 0, 16, 16), (80, 16, 16, 16)}  # cells 5 and 11 are empty
    few = {box for box, _ in split(png(sheet(gap=0)), "auto", budget=COLUMNS * ROWS)}
    assert len(few) <= COLUMNS * ROWS  # the budget leaves out grids whose tiles would pass it


def test_a_picture_is_not_a_sheet() -> None:
    """Pictures get no tiles, whatever their size: many colours, a lossy format, one sprite."""
    assert split(png(photo(3, (192, 176))), "auto") == []  # a sheet's size, a photo's colours
    few_colours = photo(3, (192, 176)).quantize(64).convert("RGB")
    out = io.BytesIO()
    few_colours.save(out, "JPEG")
    assert split(out.getvalue(), "auto") == []  # pixel art is never stored lossy
    assert split(png(sprite(1)), "auto") == []  # a single sprite is no sheet of 8-pixel cells


def test_a_few_colour_picture_without_cell_edges_is_not_a_sheet() -> None:
    """A 96 px noisy picture of 136 grey levels, or a drawing on black, fits many grids and is pixel
    art by its colours, but no grid's lines change more than the others: no tiles."""
    rng = np.random.default_rng(4)
    noise = Image.fromarray(rng.integers(120, 256, size=(96, 96), dtype=np.uint8), "L").convert("RGB")
    drawing = Image.new("RGB", (240, 240), "black")
    ImageDraw.Draw(drawing).ellipse((40, 40, 200, 200), fill=(200, 80, 40))
    for picture in (noise, drawing):
        assert packed_grids(np.asarray(picture.convert("RGBA"))) == []
        assert split(png(picture), "auto") == []


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
        # the hit is the sheet, found by its tile: the tile's box is the matched region
        assert first.image_id == sheet_id and first.tile is not None
        assert first.tile.box == (3 * 17, 17, 16, 16) and first.match is not None
        assert first.match.tier == "crop" and first.match.evidence.startswith("tile (51, 17, 16, 16) of it")
        assert first.location == str((folder / "tilemap.png").resolve())
        assert first.as_dict()["tile"]["box"] == [51, 17, 16, 16]
        tile_place = collection.catalog.images.occurrences([first.tile.tile_id])[first.tile.tile_id][0]
        assert tile_place.parent_id == sheet_id and tile_place.describe_tile() == (
            f"tile (51, 17, 16, 16) of sheet {(folder / 'tilemap.png').resolve()}"
        )
        assert collection.info(first.tile.tile_id)["occurrences"][0]["parent_id"] == sheet_id
        photo_ids = collection.catalog.images.ids_at(str((folder / "photo.png").resolve()))
        assert len(photo_ids) == 1  # a photo is never cut
        # what a search reads of its candidates: the tiles alone, with their sheets and boxes
        places = collection.catalog.images.tile_places([sheet_id, first.tile.tile_id, *photo_ids])
        assert places == {first.tile.tile_id: ([(sheet_id, (51, 17, 16, 16))], False)}
        from lookalike.api import create_app

        from asgi_client import serving

        with serving(create_app(collection)) as client:
            page = client.get(f"/images/{first.tile.tile_id}").text
        assert "tile (51, 17, 16, 16) of" in page and f'href="/images/{sheet_id}"' in page
    (tmp_path / "q.png").write_bytes(png(query))
    result = CliRunner().invoke(
        app, ["search", str(tmp_path / "q.png"), "--data", str(tmp_path / "data"), "--json"]
    )
    assert result.exit_code == 0, result.output
    top = json.loads(result.stdout)[0]
    assert top["id"] == sheet_id and top["tile"]["box"] == [51, 17, 16, 16]
    assert top["match"]["tier"] == "crop"
    region = top["why"]["tile"]["region"]["result"]  # the cell, as fractions of the sheet
    assert region[0] == [51 / 101, 17 / 67] and region[2] == [67 / 101, 33 / 67]
    (folder / "alone.png").write_bytes(png(sprite(9)))  # the sprite as a file of its own too
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "tiles": "auto"}) as collection:
        collection.index([folder])
        assert collection.catalog.images.tile_places([first.tile.tile_id])[first.tile.tile_id][1] is True


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


def test_tiles_off_cuts_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "art"
    folder.mkdir()
    sheet().save(folder / "tilemap.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "tiles": "off"}) as collection:
        assert collection.index([folder]).images_new == 1


def test_sprite_finds_its_packed_sheet_by_default(tmp_path: Path) -> None:
    """No setting: a sheet packed with no gaps is cut at ingest, and a sprite finds it among the
    first results even where the sprite's own file (a copy of the tile) ranks first, which the
    collapse of near-identical results would otherwise fold the tile into."""
    folder = tmp_path / "art"
    folder.mkdir()
    sheet(gap=0).save(folder / "packed.png")
    sprite(9).save(folder / "sprite.png")
    sprite(14).resize((32, 32), Image.Resampling.NEAREST).save(folder / "other.png")
    photo(2).save(folder / "photo.png")
    photo(4, (192, 176)).save(folder / "sheet-sized.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as collection:
        collection.index([folder])
        at = {
            name: collection.catalog.images.ids_at(str((folder / name).resolve()))
            for name in ("packed.png", "sheet-sized.png")
        }
        assert len(at["sheet-sized.png"]) == 1  # a picture is never cut
        stats = collection.stats()
        assert stats["sheets"] == 1 and stats["tiles"] >= COLUMNS * ROWS - 2  # one grid's cells, or more
        sheet_id = next(
            i for i in at["packed.png"] if collection.catalog.images.occurrences([i])[i][0].box is None
        )
        for cell in (9, 14, 20):
            query = sprite(cell).resize((48, 48), Image.Resampling.NEAREST)
            found = collection.search(png(query), k=10)
            hit = next(r for r in found if r.image_id == sheet_id)
            x, y = (cell % COLUMNS) * TILE, (cell // COLUMNS) * TILE
            assert hit.tile is not None and hit.tile.box == (x, y, TILE, TILE)
            assert hit.match is not None and hit.match.tier == "crop"
            assert hit.region is not None and hit.region[1][0] == (x / (COLUMNS * TILE), y / (ROWS * TILE))


def test_dupes_leaves_tiles_out(tmp_path: Path) -> None:
    """Tiles are no files to remove: two sheets sharing sprites, and a sprite's own file that is
    also a tile, give no duplicate groups, while a copy of the sheet does."""
    folder = tmp_path / "art"
    folder.mkdir()
    sheet().save(folder / "a.png")
    sheet().resize((2 * (COLUMNS * 17 - 1), 2 * (ROWS * 17 - 1)), Image.Resampling.NEAREST).save(
        folder / "a2x.png"
    )
    other = Image.new("RGBA", sheet().size, (0, 0, 0, 0))
    for cell in range(COLUMNS * ROWS):  # other sprites, but cells 3 and 4 hold a's sprites 3 and 4
        other.paste(
            sprite(cell if cell in (3, 4) else 100 + cell), ((cell % COLUMNS) * 17, (cell // COLUMNS) * 17)
        )
    other.save(folder / "b.png")
    sprite(7).save(folder / "sprite.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as collection:
        collection.index([folder])
        assert collection.stats()["sheets"] >= 3
        groups = [sorted(Path(i["locations"][0]).name for i in g["images"]) for g in collection.dupes()]
        assert groups == [["a.png", "a2x.png"]]
