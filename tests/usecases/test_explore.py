"""The explore map on small generated collections: every image once, no overlaps, updates in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import lookalike
from lookalike import Collection
from lookalike.usecases import explore, layout

from conftest import encode


def swatch(hue: float, seed: int) -> Image.Image:
    """A 96 px picture mostly of one hue with a little noise: hues near each other look alike."""
    rng = np.random.default_rng(seed)
    hsv = np.zeros((96, 96, 3), dtype=np.uint8)
    hsv[..., 0] = int(hue * 255) % 256
    hsv[..., 1] = 200
    hsv[..., 2] = rng.integers(120, 255, size=(96, 96))
    return Image.fromarray(hsv, "HSV").convert("RGB")


def write(folder: Path, hues: list[float], start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, hue in enumerate(hues, start):
        (folder / f"{n:03}.png").write_bytes(encode(swatch(hue, n)))


@pytest.fixture(params=["sqlite", "postgresql"])
def mapped(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Collection]:
    catalog = {} if request.param == "sqlite" else {"catalog": request.getfixturevalue("postgres_url")}
    write(tmp_path / "photos", [i / 40 for i in range(40)])
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, map={"method": "pca"}, **catalog) as opened:
        opened.index([tmp_path / "photos"])
        yield opened


def placed(collection: Collection) -> explore.Layout:
    found = explore.load(collection.home)
    assert found is not None
    return found


def test_every_image_has_a_cell_of_its_own(mapped: Collection) -> None:
    report = explore.build(mapped.app)
    assert report.images == report.added == 40 and report.rebuilt and report.skipped == 0
    built = placed(mapped)
    ids = {info.id for info, _ in mapped.catalog.listing.entries()}
    assert sorted(built.ids.tolist()) == sorted(ids)
    assert len(set(built.cells.tolist())) == 40  # no two images share a cell
    assert built.cells.min() >= 0 and built.cells.max() < built.facts.cols * built.facts.rows
    col, row = built.cell_of(int(built.ids[0])) or (-1, -1)
    assert built.at(col, row) == int(built.ids[0])
    assert report.tiles_written == report.tiles == built.facts.pyramid.count()
    deepest = built.facts.levels - 1
    tile = built.tile_path(deepest, 0, 0)
    assert tile is not None and Image.open(tile).size == (256, 256)
    assert built.tile_path(0, 0, 0) is not None and built.tile_path(deepest + 1, 0, 0) is None


def test_similar_colours_land_near_each_other(mapped: Collection) -> None:
    explore.build(mapped.app)
    built = placed(mapped)
    cols = built.facts.cols
    xy = np.column_stack([built.cells % cols, built.cells // cols]).astype(float)
    order = np.argsort(built.ids)  # ids follow the file order, which follows the hue
    neighbours = np.linalg.norm(np.diff(xy[order], axis=0), axis=1)
    spread = np.linalg.norm(xy[order][:, None] - xy[order][None], axis=2).mean()
    assert np.median(neighbours) < spread / 2


def test_new_images_are_placed_without_moving_the_others(mapped: Collection, tmp_path: Path) -> None:
    explore.build(mapped.app)
    before = placed(mapped)
    old = dict(zip(before.ids.tolist(), before.cells.tolist(), strict=True))
    write(tmp_path / "more", [0.01, 0.5, 0.51], start=100)
    mapped.index([tmp_path / "more"])
    report = explore.build(mapped.app)
    assert (report.added, report.removed, report.images, report.rebuilt) == (3, 0, 43, False)
    assert 0 < report.tiles_written < report.tiles  # only the tiles showing a new image, and those above them
    after = placed(mapped)
    now = dict(zip(after.ids.tolist(), after.cells.tolist(), strict=True))
    assert all(now[i] == c for i, c in old.items())
    assert len(set(now.values())) == 43
    assert after.facts.version == before.facts.version + 1


def test_removed_images_free_their_cells_and_rebuild_lays_out_afresh(mapped: Collection) -> None:
    explore.build(mapped.app)
    first = int(placed(mapped).ids[0])
    mapped.remove(first)
    report = explore.build(mapped.app)
    assert (report.removed, report.images) == (1, 39)
    assert first not in placed(mapped).ids.tolist()
    again = explore.build(mapped.app, rebuild=True)
    assert again.rebuilt and again.images == 39 and again.tiles_written == again.tiles
    folders = sorted(p.name for p in (mapped.home / "map").glob("tiles-*"))
    assert folders == [placed(mapped).facts.tile_folder]  # the old tiles are gone


def test_an_empty_collection_says_what_to_do(tmp_path: Path) -> None:
    with (
        lookalike.open(tmp_path / "data") as empty,
        pytest.raises(lookalike.NotFoundError, match="index some images"),
    ):
        explore.build(empty.app)


def test_snap_fills_distinct_cells_for_many_points() -> None:
    rng = np.random.default_rng(1)
    points = np.concatenate([rng.normal(size=(3000, 2)), rng.normal(loc=8, size=(2000, 2))])
    cols, rows = layout.grid_shape(len(points))
    cells = layout.snap(points, cols, rows)
    assert len(np.unique(cells)) == len(points) and cells.max() < cols * rows
    # the two clusters stay apart: most of the first cluster's cells are left of the second's
    x = cells % cols
    assert np.median(x[:3000]) < np.median(x[3000:])


def test_nearest_free_takes_the_closest_free_cell() -> None:
    occupied = np.zeros(25, dtype=bool)
    occupied[[12, 13, 7]] = True
    found = layout.nearest_free(np.array([12, 12]), occupied, cols=5)
    assert set(found.tolist()) <= {11, 17, 8, 6, 16, 18} and len(set(found.tolist())) == 2
    assert occupied[found].all()
