"""The explore map over HTTP: ``GET /api/map`` (its facts), ``/api/map/at`` (which image is in a
cell), ``/api/map/images/{id}`` (where an image is), the tiles, and the ``/map`` page.

The map is built by ``lookalike map`` (:mod:`lookalike.usecases.explore`); the service reads
the layout file again whenever it changes on disk, so a rebuilt map shows without a restart.
Tile addresses carry the map's version (``?v=``), so tiles may be cached for a day.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParameter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from lookalike.api.errors import ApiError
from lookalike.api.forms import ImageId
from lookalike.api.pages import render
from lookalike.api.rest import service_of, work
from lookalike.usecases import explore
from lookalike.usecases.tiles import FORMATS

__all__ = ["Maps", "pages", "router"]

router = APIRouter(prefix="/api", tags=["api"])
pages = APIRouter(include_in_schema=False)

#: What the API and the page say when no map has been built.
NO_MAP = "no map has been built yet: run `lookalike map` (with --data DIR) and reload"


class Maps:
    """The map of the served collection, read again when ``lookalike map`` has changed it."""

    def __init__(self) -> None:
        self._held: tuple[int, explore.Layout] | None = None
        self._lock = threading.Lock()

    def get(self, home: Path) -> explore.Layout | None:
        path = home / explore.MAP_FOLDER / explore.LAYOUT_FILE
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        with self._lock:
            if self._held is None or self._held[0] != stamp:
                found = explore.load(home)
                if found is None:
                    return None
                self._held = (stamp, found)
            return self._held[1]


def _layout(request: Request) -> explore.Layout | None:
    maps: Maps | None = getattr(request.app.state, "maps", None)
    if maps is None:
        maps = request.app.state.maps = Maps()
    return maps.get(service_of(request).collection().home)


async def _built(request: Request) -> explore.Layout:
    found = await work(request, _layout, request, heavy=False)
    if found is None:
        raise ApiError(404, "not_found", NO_MAP)
    return found


def facts_json(found: explore.Layout) -> dict[str, Any]:
    """The map's facts and the address templates a viewer needs."""
    f = found.facts
    return {
        "cols": f.cols,
        "rows": f.rows,
        "cell": f.cell,
        "tile": f.tile,
        "levels": f.levels,
        "width": f.cols * f.cell,
        "height": f.rows * f.cell,
        "format": f.format,
        "images": f.images,
        "method": f.method,
        "features": f.features,
        "version": f.version,
        "built_at": f.built_at,
        "tiles": f"/api/map/tiles/{{level}}/{{x}}/{{y}}.{f.format}?v={f.version}",
        "at": "/api/map/at?x={x}&y={y}",
    }


@router.get("/map", summary="The explore map's facts: grid, levels, tile address template")
async def map_facts(request: Request) -> JSONResponse:
    """The map built by ``lookalike map``: 404 when there is none yet."""
    return JSONResponse(facts_json(await _built(request)))


Cell = Annotated[int, Query(ge=0, le=1_000_000, description="A cell's column (x) or row (y) on the grid.")]


@router.get("/map/at", summary="The image in a cell of the map (x: column, y: row)")
async def map_at(request: Request, x: Cell, y: Cell) -> JSONResponse:
    found = await _built(request)
    image_id = found.at(x, y)
    if image_id is None:
        raise ApiError(404, "not_found", f"no image in cell ({x}, {y}) of the map")
    return JSONResponse({"x": x, "y": y, "id": image_id, **_links(image_id)})


@router.get("/map/images/{image_id}", summary="Where an image is on the map (its cell)")
async def map_cell_of(request: Request, image_id: ImageId) -> JSONResponse:
    found = await _built(request)
    cell = found.cell_of(image_id)
    if cell is None:
        raise ApiError(
            404, "not_found", f"image {image_id} is not on the map (run `lookalike map` to add it)"
        )
    return JSONResponse({"x": cell[0], "y": cell[1], "id": image_id, **_links(image_id)})


def _links(image_id: int) -> dict[str, Any]:
    return {"links": {"page": f"/images/{image_id}", "thumbnail": f"/api/images/{image_id}/thumbnail"}}


Number = Annotated[int, PathParameter(ge=0, le=1_000_000)]


@router.get("/map/tiles/{level}/{x}/{y}.{ext}", summary="A tile of the map (level 0: the whole map)")
async def map_tile(request: Request, level: Number, x: Number, y: Number, ext: str) -> Response:
    found = await _built(request)
    path = found.tile_path(level, x, y) if ext == found.facts.format else None
    if path is None:
        raise ApiError(404, "not_found", f"the map has no tile {level}/{x}/{y}.{ext}")
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=FORMATS[found.facts.format][1], headers=headers)


@pages.get("/map", response_class=HTMLResponse)
async def map_page(request: Request) -> Response:
    """The explore map with pan and zoom; a click opens the image's page."""
    found = await work(request, _layout, request, heavy=False)
    return render(request, "map.html", {"facts": facts_json(found) if found else None, "no_map": NO_MAP})
