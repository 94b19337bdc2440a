"""Sheet hits: a sprite found as a tile of a sheet is a hit on the sheet, the tile its region.

A tile is an image of its own (cut at ingest, :mod:`lookalike.sources.tiles`), so the signals
find a sprite as its tile.  What the user wants is the sheet that holds it: each ranked tile
is replaced by its sheet (once per sheet, at the tile's rank), before near-identical results
are collapsed, so the collapse compares the sheet's own features and a copy of the sprite that
ranks higher (the sprite's own file) cannot hide it.  The sheet's result carries the tile's
evidence, its box as the matched region, and the ``crop`` tier when the tile is the sprite.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lookalike.catalog import Catalog
from lookalike.records import Box, ImageInfo
from lookalike.search.tiers import MatchTier, Tier
from lookalike.signals import Match, Region

__all__ = ["Cell", "cell_evidence", "lift", "sheet_tier"]

TILE = "tile"  # the evidence of a sheet hit that its tile stands for
WHOLE: Region = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


@dataclass(frozen=True)
class Cell:
    """The tile that a sheet's hit stands for: its image id and its box in the sheet."""

    tile_id: int
    box: Box

    def describe(self) -> str:
        x, y, w, h = self.box
        return f"tile ({x}, {y}, {w}, {h})"


def lift(
    catalog: Catalog, ranked: Sequence[int], exclude: Collection[int] = ()
) -> tuple[list[int], dict[int, Cell]]:
    """``ranked`` (image ids, best first) with each tile replaced by its sheets, and the cell each
    sheet stands for.  A tile also seen as a file of its own stays, its sheets right after it;
    a sheet already ranked (as itself or by a better tile) is not repeated; ``exclude``d sheets
    are left out."""
    places = catalog.images.tile_places(list(ranked))
    out: list[int] = []
    seen: set[int] = set()
    cells: dict[int, Cell] = {}
    for image_id in ranked:
        sheets, whole = places.get(image_id, ([], True))
        if whole and image_id not in seen:
            out.append(image_id)
            seen.add(image_id)
        for sheet, box in sheets:
            if sheet in seen or sheet in exclude:
                continue
            out.append(sheet)
            seen.add(sheet)
            cells[sheet] = Cell(image_id, box)
    return out, cells


def cell_evidence(cell: Cell, sheet: ImageInfo | None, similarity: float) -> tuple[str, Match | None, str]:
    """(signal name, the cell as a matched region, a note) for the evidence of a sheet's hit: the
    whole query matched the cell's box (as fractions of the sheet's width and height)."""
    if sheet is None or not sheet.width or not sheet.height:
        return TILE, None, cell.describe()
    x, y, w, h = cell.box
    left, top, right, bottom = (
        x / sheet.width,
        y / sheet.height,
        (x + w) / sheet.width,
        (y + h) / sheet.height,
    )
    region: Region = ((left, top), (right, top), (right, bottom), (left, bottom))
    return TILE, Match(0, 0, False, WHOLE, region), cell.describe()


def sheet_tier(cell: Cell, tile: MatchTier) -> MatchTier:
    """A sheet's tier from its tile's: the sprite itself (or a copy or part of it) in a cell makes
    the sheet a ``crop`` hit; a tile that only looks alike, a look-alike."""
    tier = Tier.SIMILAR if tile.tier is Tier.SIMILAR else Tier.CROP
    return MatchTier(tier, tile.probability, f"{cell.describe()} of it: {tile.evidence}")
