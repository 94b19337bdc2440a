"""The map's picture: a grid of thumbnails cut into a pyramid of square tiles (deep zoom).

The deepest level draws each image in a ``cell`` x ``cell`` square; each level above halves
the size, down to level 0, one tile for the whole map.  Tiles are files
``LEVEL/X_Y.EXT`` in a folder.  The deepest level is drawn first, then each level above from
the files of the four tiles below, so memory holds a few tiles, never a whole level.  An
update redraws only the deepest tiles whose cells changed and the tiles above them.
Each file is written to a temporary name and renamed, so a reader never sees half a tile.
Pillow only: pyvips would cut tiles faster but needs the libvips system library.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

__all__ = ["BACKGROUND", "FORMATS", "TILE", "Pictures", "Pyramid", "render"]

#: Side of a tile in pixels.
TILE = 256
#: The map's background (between pictures and beyond the last row), a grey that suits light and dark pages.
BACKGROUND = (39, 42, 47)
#: Tile formats: file extension -> Pillow format, media type.
FORMATS: dict[str, tuple[str, str]] = {
    "webp": ("WEBP", "image/webp"),
    "jpeg": ("JPEG", "image/jpeg"),
    "png": ("PNG", "image/png"),
}

#: The pictures of some cells: cell -> image (None: an empty cell or no thumbnail).
Pictures = Callable[[list[int]], dict[int, Image.Image | None]]


@dataclass(frozen=True)
class Pyramid:
    """The geometry of a map's tiles: a ``cols`` x ``rows`` grid, ``cell`` pixels per image at the deepest level."""

    cols: int
    rows: int
    cell: int

    @property
    def per_tile(self) -> int:
        """Cells along a tile's side at the deepest level."""
        return TILE // self.cell

    @property
    def deepest(self) -> int:
        """The deepest level (level 0: the whole map in one tile)."""
        side = max(self.cols, self.rows) * self.cell
        return max(0, math.ceil(math.log2(side / TILE))) if side > TILE else 0

    def tiles(self, level: int) -> tuple[int, int]:
        """Tiles across and down at ``level``."""
        scale = 2 ** (level - self.deepest)
        across = max(1, math.ceil(self.cols * self.cell * scale / TILE))
        down = max(1, math.ceil(self.rows * self.cell * scale / TILE))
        return across, down

    def tile_of(self, cell: int) -> tuple[int, int]:
        """The deepest-level tile that draws ``cell``."""
        return (cell % self.cols) // self.per_tile, (cell // self.cols) // self.per_tile

    def count(self) -> int:
        """How many tiles all levels hold."""
        return sum(a * d for a, d in (self.tiles(level) for level in range(self.deepest + 1)))


def render(
    pyramid: Pyramid,
    folder: Path,
    pictures: Pictures,
    fmt: str = "webp",
    changed: Iterable[int] | None = None,
    progress: Callable[[str, int], None] | None = None,
    threads: int = 2,
) -> int:
    """Draw the tiles of ``pyramid`` into ``folder``: all of them, or those showing a ``changed`` cell.

    The deepest level first, then each level above from the files of the one below, each level's
    tiles on ``threads`` threads (Pillow decodes, resizes and encodes without holding the GIL).
    Returns how many tiles were written."""
    dirty = _dirty(pyramid, changed)
    total = sum(len(d) for d in dirty) if dirty is not None else pyramid.count()
    if progress:
        progress("tiles_total", total)
    drawer = _Drawer(pyramid, folder, pictures, fmt)
    written = 0
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for level in range(pyramid.deepest, -1, -1):
            across, down = pyramid.tiles(level)
            wanted = (
                dirty[level] if dirty is not None else {(x, y) for y in range(down) for x in range(across)}
            )
            for _ in pool.map(
                lambda xy, level=level: drawer.tile(level, *xy), sorted(wanted, key=_row_first)
            ):
                written += 1
                if progress:
                    progress("tile", 1)
    return written


def _row_first(xy: tuple[int, int]) -> tuple[int, int]:
    return xy[1], xy[0]


def _dirty(pyramid: Pyramid, changed: Iterable[int] | None) -> list[set[tuple[int, int]]] | None:
    """Per level, the tiles to redraw (None: every tile)."""
    if changed is None:
        return None
    levels: list[set[tuple[int, int]]] = [set() for _ in range(pyramid.deepest + 1)]
    levels[-1] = {pyramid.tile_of(c) for c in changed}
    for level in range(pyramid.deepest - 1, -1, -1):
        levels[level] = {(x // 2, y // 2) for x, y in levels[level + 1]}
    return levels


class _Drawer:
    def __init__(self, pyramid: Pyramid, folder: Path, pictures: Pictures, fmt: str) -> None:
        self.pyramid, self.folder, self.pictures, self.fmt = pyramid, folder, pictures, fmt

    def path(self, level: int, x: int, y: int) -> Path:
        return self.folder / str(level) / f"{x}_{y}.{self.fmt}"

    def tile(self, level: int, x: int, y: int) -> None:
        picture = self.draw_cells(x, y) if level == self.pyramid.deepest else self.draw_children(level, x, y)
        self.save(picture, self.path(level, x, y))

    def draw_children(self, level: int, x: int, y: int) -> Image.Image:
        whole = Image.new("RGB", (2 * TILE, 2 * TILE), BACKGROUND)
        for dy in (0, 1):
            for dx in (0, 1):
                child = self.path(level + 1, 2 * x + dx, 2 * y + dy)
                if child.exists():
                    with Image.open(child) as drawn:
                        whole.paste(drawn.convert("RGB"), (dx * TILE, dy * TILE))
        return whole.resize((TILE, TILE), Image.Resampling.BOX)

    def draw_cells(self, x: int, y: int) -> Image.Image:
        p = self.pyramid
        tile = Image.new("RGB", (TILE, TILE), BACKGROUND)
        cells = [
            row * p.cols + col
            for row in range(y * p.per_tile, min(p.rows, (y + 1) * p.per_tile))
            for col in range(x * p.per_tile, min(p.cols, (x + 1) * p.per_tile))
        ]
        for cell, picture in self.pictures(cells).items():
            if picture is not None:
                fitted = fit(picture, p.cell)
                left = (cell % p.cols - x * p.per_tile) * p.cell + (p.cell - fitted.width) // 2
                top = (cell // p.cols - y * p.per_tile) * p.cell + (p.cell - fitted.height) // 2
                tile.paste(fitted, (left, top))
        return tile

    def save(self, picture: Image.Image, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f"{path.name}.{threading.get_ident()}.part")
        name, _ = FORMATS[self.fmt]
        picture.save(part, name, **({"quality": 80} if name != "PNG" else {}))
        os.replace(part, path)


def fit(picture: Image.Image, side: int) -> Image.Image:
    """``picture`` in a ``side`` square, aspect kept, with a pixel's margin; a small one (pixel art)
    is enlarged by whole pixels, never blurred."""
    room = max(1, side - 2)
    picture = picture.convert("RGB")
    scale = room / max(picture.width, picture.height)
    if scale >= 2:
        whole = int(scale)
        return picture.resize((picture.width * whole, picture.height * whole), Image.Resampling.NEAREST)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.BILINEAR if scale < 1 else Image.Resampling.NEAREST)
