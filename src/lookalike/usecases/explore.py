"""The explore map: the whole collection laid out in 2-D by its features, on a grid, as zoomable tiles.

``lookalike map`` (:func:`build`) reads the features from the catalog (a content model's
embedding when one is indexed, else the colour histogram and the perceptual hash), lays them
out (:mod:`lookalike.usecases.layout`), snaps them to a grid with one image per cell and draws
the tiles (:mod:`lookalike.usecases.tiles`).  A later run is incremental: new images go to
the free cell nearest to their nearest placed neighbour's, removed ones free their cells,
and only the tiles that show a changed cell are redrawn; nothing placed moves.  ``rebuild``
(or a change of the features used) lays everything out afresh.

The map is derived data, like the indexes: it lives in ``map/`` in the data folder, one
``layout.npz`` (image ids, their cells, and the facts as JSON) and a folder of tiles, and can
always be made again from the catalog.  Crash safety: a full layout draws into a new tile
folder and then replaces ``layout.npz`` in one rename, which names the folder; an update
first records the cells it is about to redraw in ``layout.npz``, so a run killed halfway
redraws them next time.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lookalike.app import App
from lookalike.errors import ConfigError, NotFoundError
from lookalike.usecases import layout, tiles

__all__ = ["LAYOUT_FILE", "MAP_FOLDER", "Layout", "MapFacts", "MapReport", "build", "load"]

MAP_FOLDER = "map"
LAYOUT_FILE = "layout.npz"

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class MapFacts:
    """What a built map is: its grid, its tiles, how it was made."""

    cols: int
    rows: int
    cell: int
    levels: int
    format: str
    method: str
    features: str
    images: int
    version: int
    built_at: float
    tile_folder: str  # the folder of the tiles inside map/
    tile: int = tiles.TILE
    pending: list[int] = field(default_factory=list)  # cells whose tiles an interrupted run left to redraw

    @property
    def pyramid(self) -> tiles.Pyramid:
        return tiles.Pyramid(self.cols, self.rows, self.cell)


@dataclass
class Layout:
    """A built map: which image is in which cell."""

    facts: MapFacts
    ids: np.ndarray
    cells: np.ndarray
    folder: Path

    def __post_init__(self) -> None:
        self.grid = np.full(self.facts.cols * self.facts.rows, -1, dtype=np.int64)
        self.grid[self.cells] = self.ids

    def at(self, col: int, row: int) -> int | None:
        """The image in a cell (None: an empty cell or one outside the grid)."""
        if not (0 <= col < self.facts.cols and 0 <= row < self.facts.rows):
            return None
        found = int(self.grid[row * self.facts.cols + col])
        return found if found >= 0 else None

    def cell_of(self, image_id: int) -> tuple[int, int] | None:
        """(col, row) of an image on the map, None when it is not on it."""
        where = np.flatnonzero(self.ids == image_id)
        if not len(where):
            return None
        cell = int(self.cells[where[0]])
        return cell % self.facts.cols, cell // self.facts.cols

    def tile_path(self, level: int, x: int, y: int) -> Path | None:
        """The file of a tile, None when the map has no such tile."""
        if not 0 <= level < self.facts.levels:
            return None
        path = self.folder / self.facts.tile_folder / str(level) / f"{x}_{y}.{self.facts.format}"
        return path if path.is_file() else None


@dataclass(frozen=True)
class MapReport:
    """What a ``lookalike map`` run did."""

    images: int  # on the map now
    added: int  # placed by this run
    removed: int  # taken off (no longer in the catalog)
    cols: int
    rows: int
    tiles_written: int
    tiles: int  # the map's tiles in all
    levels: int
    seconds: float
    method: str
    features: str
    rebuilt: bool
    skipped: int  # usable images without the features the map uses

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load(home: Path) -> Layout | None:
    """The map built in the data folder ``home``, None when there is none."""
    path = home / MAP_FOLDER / LAYOUT_FILE
    if not path.is_file():
        return None
    with np.load(path) as stored:
        facts = MapFacts(**json.loads(str(stored["facts"])))
        return Layout(facts, stored["ids"].astype(np.int64), stored["cells"].astype(np.int64), path.parent)


def build(app: App, rebuild: bool = False, progress: Progress | None = None) -> MapReport:
    """Make or update the map of the collection (see the module docstring)."""
    started = time.perf_counter()
    settings = app.settings.map
    ids, rows, features, skipped = read_features(app)
    method = layout.method_for(settings.method, len(ids))
    if progress:
        progress("features", len(ids))
    old = load(app.home)
    fresh = rebuild or old is None or old.facts.features != features or not len(old.ids)
    if fresh:
        cells, cols, grid_rows = _lay_out(rows, method, settings.spare)
        changed: set[int] | None = None
        removed = 0
        added = len(ids)
    else:
        assert old is not None
        cells, cols, grid_rows, changed, removed, added = _update(old, ids, rows, settings.spare)
        method = old.facts.method
    if progress:
        progress("layout", len(ids))
    previous = old.facts if old is not None else None
    facts = MapFacts(
        cols=cols,
        rows=grid_rows,
        cell=settings.cell,
        levels=tiles.Pyramid(cols, grid_rows, settings.cell).deepest + 1,
        format=settings.tile_format,
        method=method,
        features=features,
        images=len(ids),
        version=(previous.version + 1) if previous else 1,
        built_at=time.time(),
        tile_folder=previous.tile_folder if previous else "tiles-1",
    )
    if previous is not None and changed is not None:
        same_tiles = (previous.cols, previous.rows, previous.cell, previous.format) == (
            cols,
            grid_rows,
            settings.cell,
            settings.tile_format,
        )
        changed = (changed | set(previous.pending)) if same_tiles else None
    written = _draw(app, facts, ids, cells, changed, progress)
    return MapReport(
        images=len(ids),
        added=added,
        removed=removed,
        cols=cols,
        rows=grid_rows,
        tiles_written=written,
        tiles=facts.pyramid.count(),
        levels=facts.levels,
        seconds=round(time.perf_counter() - started, 3),
        method=method,
        features=features,
        rebuilt=fresh,
        skipped=skipped,
    )


def _lay_out(rows: np.ndarray, method: str, spare: float) -> tuple[np.ndarray, int, int]:
    cols, grid_rows = layout.grid_shape(len(rows), spare)
    points = layout.reduce(rows, method)
    return layout.snap(points, cols, grid_rows), cols, grid_rows


def _update(
    old: Layout, ids: np.ndarray, rows: np.ndarray, spare: float
) -> tuple[np.ndarray, int, int, set[int], int, int]:
    """Keep every placed image in its cell; place the new ones near their nearest placed neighbour."""
    cols, grid_rows = old.facts.cols, old.facts.rows
    where = dict(zip(old.ids.tolist(), old.cells.tolist(), strict=True))
    kept = np.array([i in where for i in ids.tolist()], dtype=bool)
    cells = np.array([where.get(i, -1) for i in ids.tolist()], dtype=np.int64)
    current = set(ids.tolist())
    changed = {c for i, c in where.items() if i not in current}  # cells of removed images
    new = np.flatnonzero(~kept)
    if len(new):
        free_now = cols * grid_rows - int(kept.sum())
        if free_now < len(new):  # grow the grid downwards: whole rows, cells stay where they are
            grid_rows = -(-(int(kept.sum()) + len(new) + int(spare * len(ids))) // cols)
        occupied = np.zeros(cols * grid_rows, dtype=bool)
        occupied[cells[kept]] = True
        anchors = np.full(len(new), -1, dtype=np.int64)
        if kept.any():
            reduced = layout.pca(rows, layout.PCA_DIMS)
            placed = np.flatnonzero(kept)
            anchors = cells[placed[layout.nearest_rows(reduced[new], reduced[placed])]]
        cells[new] = layout.nearest_free(anchors, occupied, cols)
        changed |= set(cells[new].tolist())
    return cells, cols, grid_rows, changed, len(where) - int(kept.sum()), len(new)


def _draw(
    app: App,
    facts: MapFacts,
    ids: np.ndarray,
    cells: np.ndarray,
    changed: set[int] | None,
    progress: Progress | None,
) -> int:
    folder = app.home / MAP_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    pictures = _pictures(app, ids, cells, facts.cell)
    threads = max(1, min(4, os.cpu_count() or 1))
    if changed is None:  # every tile, into a new folder that the new layout names
        number = int(facts.tile_folder.rsplit("-", 1)[-1]) + 1 if facts.version > 1 else 1
        facts = replace(facts, tile_folder=f"tiles-{number}")
        shutil.rmtree(folder / facts.tile_folder, ignore_errors=True)
        written = tiles.render(
            facts.pyramid, folder / facts.tile_folder, pictures, facts.format, None, progress, threads
        )
        _save(folder, facts, ids, cells)
        for other in folder.glob("tiles-*"):
            if other.name != facts.tile_folder:
                shutil.rmtree(other, ignore_errors=True)
        return written
    _save(folder, replace(facts, pending=sorted(changed)), ids, cells)
    written = tiles.render(
        facts.pyramid, folder / facts.tile_folder, pictures, facts.format, changed, progress, threads
    )
    _save(folder, facts, ids, cells)
    return written


def _save(folder: Path, facts: MapFacts, ids: np.ndarray, cells: np.ndarray) -> None:
    part = folder / (LAYOUT_FILE + ".part")
    with part.open("wb") as out:
        np.savez(
            out,
            ids=ids.astype(np.int64),
            cells=cells.astype(np.int64),
            facts=np.array(json.dumps(asdict(facts))),
        )
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, folder / LAYOUT_FILE)


def _pictures(app: App, ids: np.ndarray, cells: np.ndarray, side: int) -> tiles.Pictures:
    """The thumbnails of cells, read from the thumbnail store as tiles ask for them (a JPEG
    decoded at the smallest scale that still fills ``side`` pixels)."""
    by_cell = dict(zip(cells.tolist(), ids.tolist(), strict=True))
    shas = {info.id: info.sha256 for info, _ in app.catalog.listing.entries()}

    def pictures(wanted: list[int]) -> dict[int, Image.Image | None]:
        found: dict[int, Image.Image | None] = {}
        for cell in wanted:
            image_id = by_cell.get(cell)
            data = app.thumbs.get(shas[image_id]) if image_id in shas else None
            found[cell] = _opened(data, side) if data else None
        return found

    return pictures


def _opened(data: bytes, side: int) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.draft("RGB", (side, side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale when that suffices
            picture.load()
            return picture.copy()
    except (OSError, ValueError):  # a damaged thumbnail is an empty cell, not a failed map
        return None


def read_features(app: App) -> tuple[np.ndarray, np.ndarray, str, int]:
    """Image ids, one feature row each, the name of what the rows are made of, and how many usable
    images lack them: a content model's embedding when one is indexed, else colour and phash."""
    usable = {info.id for info, _ in app.catalog.listing.entries()}
    for name, signal in app.signals.content().items():
        if app.catalog.features.count(signal.spec.name, signal.spec.version):
            ids, rows, skipped = _stack([_rows(app, name)], usable)
            return ids, rows, f"{name}.v{signal.spec.version}", skipped
    blocks = [_rows(app, name) for name in ("colour", "phash") if name in app.signals]
    if not blocks:
        raise ConfigError(
            "the map needs the colour or phash signal, or a content model: see `lookalike doctor`"
        )
    names = "+".join(f"{n}.v{app.signals[n].spec.version}" for n in ("colour", "phash") if n in app.signals)
    ids, rows, skipped = _stack(blocks, usable)
    return ids, rows, names, skipped


def _rows(app: App, name: str) -> dict[int, np.ndarray]:
    """One signal's stored features as float rows of unit total variance, by image id."""
    signal = app.signals[name]
    found: dict[int, np.ndarray] = {}
    for batch in app.catalog.features.iterate(signal.spec.name, signal.spec.version):
        for image_id, payload in batch:
            stored = signal.decode(payload)[:1]
            row = np.unpackbits(stored, axis=1) if name == "phash" else signal.index_vectors(stored)
            found[image_id] = row[0].astype(np.float32)
    if found:
        matrix = np.stack(list(found.values()))
        scale = float(np.sqrt(matrix.var(axis=0).sum())) or 1.0
        found = {i: r / scale for i, r in found.items()}
    return found


def _stack(blocks: list[dict[int, np.ndarray]], usable: set[int]) -> tuple[np.ndarray, np.ndarray, int]:
    ids = sorted(usable.intersection(*[set(b) for b in blocks]))
    if not ids:
        raise NotFoundError("nothing to map: index some images first (`lookalike index DIR`)")
    rows = np.stack([np.concatenate([b[i] for b in blocks]) for i in ids])
    return np.array(ids, dtype=np.int64), rows, len(usable) - len(ids)
