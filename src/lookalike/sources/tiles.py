"""Sprite and tile sheets: find the grid of a sheet and cut it into tiles (pure, no I/O).

``ingest.tiles = "auto"`` (the default) knows a sheet two ways:

- cells of 8 to 64 pixels square, 1 or 2 pixels apart, every separator pixel transparent or of
  one colour, with at least 2x2 and 6 cells (:func:`find_grid`);
- packed without gaps (:func:`packed_grids`): an image of pixel art (at most
  :data:`PIXEL_ART_COLOURS` colours, at least :data:`MIN_PACKED` pixels a side) whose sides are
  both multiples of a common cell size (:data:`PACKED_SIZES`), with at least 6 cells.  Such a
  sheet cannot be told from a picture for sure: the colour changes across each candidate grid's
  lines, against those across every other line of the same phase, rank its candidate grids.
  None is cut unless the likeliest stands out by :data:`MIN_CONTRAST`; then the likeliest and
  those scoring nearly as well (:data:`RUNNER_UP`, at most :data:`MAX_GRIDS` in all) are cut
  while their tiles fit in ``ingest.tile_budget`` rows, since the likeliest is not always the
  true grid (sprites with transparent margins).  A tile cut by a wrong grid costs a row and finds
  nothing.

A grid can also be given (``ingest.tiles = "16x16"`` or ``"16x16+1"`` for 1 pixel apart).
Cells that are wholly transparent or of one colour are skipped.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from lookalike.records import Box

__all__ = ["Grid", "find_grid", "packed_grids", "parse_grid", "split"]

SIZES = (8, 16, 18, 24, 32, 48, 64)
SPACINGS = (1, 2)
MAX_SHEET = 4096  # longest side of a sheet considered (larger images are photos, not sheets)
#: Cell sides a packed sheet is tried with: the usual sprite sizes and their 2x and 3x enlargements.
PACKED_SIZES = (8, 12, 16, 18, 20, 24, 32, 36, 40, 48, 54, 64, 72, 96, 128)
PIXEL_ART_COLOURS = 256  # more distinct colours: a picture, not pixel art
MIN_PACKED = 48  # a shorter side: a single sprite, not a sheet
#: A grid is cut only when its cell edges stand out this much (:func:`_phase_contrast`): packed
#: sheets score 1.5 to 7, a drawing or a noisy few-colour picture 0.3 to 1.2, and a sheet of tiles
#: drawn to join seamlessly (Kenney's platformer backgrounds, 0.78) cannot be told from a picture.
MIN_CONTRAST = 1.3
MIN_CELLS = 6
MAX_GRIDS = 3
RUNNER_UP = 0.75  # a grid scoring less than this share of the best one's is not cut
LOSSY = frozenset({"JPEG", "MPO"})


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

    def boxes(self, size: tuple[int, int]) -> list[Box]:
        """The cells of a sheet of ``size``, row by row (none when the grid does not fit)."""
        shape = self.fits(size)
        if shape is None:
            return []
        step_x, step_y = self.width + self.spacing, self.height + self.spacing
        return [
            (column * step_x, row * step_y, self.width, self.height)
            for row in range(shape[1])
            for column in range(shape[0])
        ]


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
            if len(grid.boxes((w, h))) >= MIN_CELLS and _uniform_separators(pixels, grid):
                return grid
    return None


def packed_grids(pixels: np.ndarray) -> list[Grid]:
    """The grids to cut a sheet packed without gaps (RGBA pixels) by, most likely first: the
    likeliest and those that score at least :data:`RUNNER_UP` of its score, at most
    :data:`MAX_GRIDS`; none when the image is no pixel art or no common cell size fits it."""
    h, w = pixels.shape[:2]
    if max(w, h) > MAX_SHEET or min(w, h) < MIN_PACKED:
        return []
    fitting = [s for s in PACKED_SIZES if w % s == 0 and h % s == 0 and (w // s) * (h // s) >= MIN_CELLS]
    fitting = [s for s in fitting if w // s >= 2 and h // s >= 2]
    if not fitting or _colours(pixels) > PIXEL_ART_COLOURS:
        return []
    across, down = _changes(pixels, 1), _changes(pixels, 0)
    score = {s: min(_phase_contrast(across, s), _phase_contrast(down, s)) for s in fitting}
    ranked = sorted(fitting, key=lambda s: (-score[s], s))
    if score[ranked[0]] < MIN_CONTRAST:
        return []
    close = [s for s in ranked if score[s] >= RUNNER_UP * score[ranked[0]]]
    return [Grid(s, s) for s in close[:MAX_GRIDS]]


def _colours(pixels: np.ndarray) -> int:
    """Distinct colours of the pixels that are not transparent, counted up to one more than
    :data:`PIXEL_ART_COLOURS`."""
    flat = np.ascontiguousarray(pixels).reshape(-1, 4)
    shown = flat[flat[:, 3] > 0]
    found = Image.fromarray(shown[None, :, :], "RGBA").getcolors(PIXEL_ART_COLOURS + 1) if len(shown) else []
    return PIXEL_ART_COLOURS + 1 if found is None else len(found)


def _changes(pixels: np.ndarray, axis: int) -> np.ndarray:
    """The mean colour change across each line between two pixel columns (``axis`` 1) or rows (0):
    entry i is between i and i + 1."""
    steps = np.abs(np.diff(pixels.astype(np.int16), axis=axis)).sum(axis=-1)
    return np.asarray(steps.mean(axis=1 - axis), dtype=np.float64)


def _phase_contrast(changes: np.ndarray, size: int) -> float:
    """How much more the colour changes across a grid's cell edges than across any other line of
    the same phase (1: no more; cells cut by their edges change more)."""
    phases = np.array([changes[(offset - 1) % size :: size].mean() for offset in range(size)])
    return float(phases[0] / max(float(phases[1:].max()), 1e-9))


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


def split(data: bytes, setting: str, budget: int = 2048) -> list[tuple[Box, bytes]]:
    """Tiles of a sheet as (box, PNG bytes), or none when the image is not a sheet.

    ``setting``: 'auto', or a grid like '16x16+1' (see the module docstring); ``budget``: the most
    tiles a packed sheet's candidate grids may give together.
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if max(opened.size) > MAX_SHEET or (setting == "auto" and not _may_be_sheet(opened)):
                return []  # known before the pixels are decoded
            image = opened.convert("RGBA")
    except Exception:  # not for this module to judge; the decoder reports bad images
        return []
    pixels = np.asarray(image)
    if setting != "auto":
        given = parse_grid(setting)
        return _cut(pixels, given.boxes(image.size)) if given is not None else []
    spaced = find_grid(pixels)
    if spaced is not None:
        return _cut(pixels, spaced.boxes(image.size))
    tiles: list[tuple[Box, bytes]] = []
    for grid in packed_grids(pixels):
        cut = _cut(pixels, grid.boxes(image.size))
        if len(tiles) + len(cut) > budget:
            continue  # a finer grid than the budget allows; a coarser one may still fit
        tiles += cut
    return tiles


def _may_be_sheet(opened: Image.Image) -> bool:
    """Whether an image could be a sheet by its format and size alone: pixel art is never stored
    lossy (JPEG), and some grid must fit its sides."""
    if opened.format in LOSSY:
        return False
    size = opened.size
    spaced = any(Grid(s, s, gap).fits(size) for s in SIZES for gap in SPACINGS)
    return spaced or any(size[0] % s == 0 and size[1] % s == 0 for s in PACKED_SIZES)


def _cut(pixels: np.ndarray, boxes: list[Box]) -> list[tuple[Box, bytes]]:
    """The cells at ``boxes`` as PNG bytes, leaving out those wholly transparent or of one colour."""
    tiles = []
    for x, y, w, h in boxes:
        cell = pixels[y : y + h, x : x + w]
        if (cell[..., 3] == 0).all() or (cell == cell[0, 0]).all():
            continue
        out = io.BytesIO()
        Image.fromarray(cell, "RGBA").save(out, "PNG")
        tiles.append(((x, y, w, h), out.getvalue()))
    return tiles
