"""Sprite and tile sheets: find the grid of a sheet and cut it into tiles (pure, no I/O).

A sheet is recognised conservatively (``ingest.tiles = "auto"``): its cells
are 8 to 64 pixels square, 1 or 2 pixels apart, and every separator pixel is
transparent or of one colour, with at least 2x2 cells.  A sheet packed without
separators cannot be told from any other picture, so it is split only when the
grid is given (``ingest.tiles = "16x16"`` or ``"16x16+1"`` for 1 pixel apart).
Cells that are wholly transparent or of one colour are skipped.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from lookalike.records import Box

__all__ = ["Grid", "find_grid", "parse_grid", "split"]

SIZES = (8, 16, 18, 24, 32, 48, 64)
SPACINGS = (1, 2)
MAX_SHEET = 4096  # longest side of a sheet considered (larger images are photos, not sheets)


@dataclass(frozen=True)
class Grid:
    """Cells of ``width`` x ``height`` pixels, ``spacing`` pixels apart, from the top left."""

    width: int
    height: int
    spacing: int = 0

    def fits(self, size: tuple[int, int]) -> tuple[int, int] | None:
        """(columns, rows) when a sheet of ``size`` is exactly this grid, else None."""
        w, h = size
        step_x, step_y = self.width + self.spacing, self.height + self.spacing
        if (w + self.spacing) % step_x or (h + self.spacing) % step_y:
            return None
        columns, rows = (w + self.spacing) // step_x, (h + self.spacing) // step_y
        return (columns, rows) if columns * rows >= 4 and columns >= 2 and rows >= 2 else None


def parse_grid(text: str) -> Grid | None:
    """'16x16' or '16x16+1' as a grid; None for 'auto' and 'off'."""
    match = re.fullmatch(r"(\d+)x(\d+)(?:\+(\d+))?", text.strip())
    if match is None:
        return None
    return Grid(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def find_grid(pixels: np.ndarray) -> Grid | None:
    """The grid of a sheet with uniform separators (RGBA pixels), if it is one."""
    h, w = pixels.shape[:2]
    if max(w, h) > MAX_SHEET:
        return None
    for spacing in SPACINGS:
        for size in SIZES:
            grid = Grid(size, size, spacing)
            if grid.fits((w, h)) and _uniform_separators(pixels, grid):
                return grid
    return None


def _uniform_separators(pixels: np.ndarray, grid: Grid) -> bool:
    h, w = pixels.shape[:2]
    step = grid.width + grid.spacing
    columns = [x for start in range(grid.width, w, step) for x in range(start, start + grid.spacing)]
    rows = [
        y
        for start in range(grid.height, h, grid.height + grid.spacing)
        for y in range(start, start + grid.spacing)
    ]
    lines = np.concatenate([pixels[:, columns].reshape(-1, 4), pixels[rows, :].reshape(-1, 4)])
    if (lines[:, 3] == 0).all():
        return True
    return bool((lines == lines[0]).all())


def split(data: bytes, setting: str) -> list[tuple[Box, bytes]]:
    """Tiles of a sheet as (box, PNG bytes), or none when the image is not a sheet.

    ``setting``: 'auto', or a grid like '16x16+1' (see the module docstring).
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if max(opened.size) > MAX_SHEET:
                return []
            image = opened.convert("RGBA")
    except Exception:  # not for this module to judge; the decoder reports bad images
        return []
    pixels = np.asarray(image)
    grid = find_grid(pixels) if setting == "auto" else parse_grid(setting)
    shape = grid.fits(image.size) if grid is not None else None
    if grid is None or shape is None:
        return []
    tiles = []
    for row in range(shape[1]):
        for column in range(shape[0]):
            x, y = column * (grid.width + grid.spacing), row * (grid.height + grid.spacing)
            cell = pixels[y : y + grid.height, x : x + grid.width]
            if (cell[..., 3] == 0).all() or (cell == cell[0, 0]).all():
                continue
            out = io.BytesIO()
            Image.fromarray(cell, "RGBA").save(out, "PNG")
            tiles.append(((x, y, grid.width, grid.height), out.getvalue()))
    return tiles
