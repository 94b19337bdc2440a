"""Browsing without a query: ``GET /api/images`` and the ``/browse`` page.

Both list the whole collection through :meth:`Collection.browse`, with the search page's
filters (source, tag, format, size, ``filter=field:value``) and facets, a sort
(:data:`~lookalike.usecases.browse.SORTS`) and a page, all in the query string, so
every view has an address that can be shared and reloaded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from lookalike.api import views
from lookalike.api.forms import form_filters
from lookalike.api.pages import Here, render
from lookalike.api.rest import result_json, service_of, work
from lookalike.usecases.browse import DEFAULT_SORT, SORTS

__all__ = ["PER_PAGE", "pages", "router"]

#: Images per page of ``/browse``.
PER_PAGE = 48
#: Pages ``/browse`` offers; a deeper look is a narrower filter.
MAX_PAGES = 500

Sort = Literal["-added", "added", "-pixels", "pixels", "-bytes", "bytes", "path", "-path"]
assert set(get_args(Sort)) == set(SORTS)  # one list of sorts

router = APIRouter(prefix="/api", tags=["api"])
pages = APIRouter(include_in_schema=False)


@router.get("/images", summary="The whole collection, filtered, sorted and paged (no query needed)")
async def list_images(
    request: Request,
    sort: Annotated[
        Sort, Query(description="added, pixels, bytes or path; '-' first: descending.")
    ] = "-added",
    k: Annotated[int, Query(ge=1, le=500, description="Images per page.")] = PER_PAGE,
    offset: Annotated[int, Query(ge=0, description="Images to skip.")] = 0,
    facets: Annotated[bool, Query(description="Count images per source, tag, format, size.")] = False,
    source: Annotated[list[str] | None, Query()] = None,
    tag: Annotated[list[str] | None, Query()] = None,
    format: Annotated[list[str] | None, Query()] = None,
    size: Annotated[list[str] | None, Query(description="small, medium or large.")] = None,
    filter: Annotated[list[str] | None, Query(description="field:value on extra metadata.")] = None,
    include_junk: Annotated[bool, Query(description="Also list junk images.")] = False,
) -> JSONResponse:
    """Every image with its facts, places and ``added_at``, as ``lookalike browse --json``."""
    filters = form_filters(request.query_params.getlist)
    service = service_of(request)
    found = await work(request, service.browse, sort, filters, offset, k, facets, include_junk, heavy=False)
    body = found.as_dict()
    for entry, result in zip(body["results"], found.results, strict=True):
        entry["links"] = result_json(result)["links"]
    return JSONResponse(body)


class BrowseHere(Here):
    """Links of ``/browse`` that change one thing of the current view."""

    def url(self, **changes: object) -> str:
        return "/browse" + super().url(**changes)[1:]

    def toggle(self, field: str, value: str) -> str:
        return "/browse" + super().toggle(field, value)[1:]


@pages.get("/browse", response_class=HTMLResponse)
async def browse_page(
    request: Request,
    sort: Sort = DEFAULT_SORT,  # type: ignore[assignment]  # a Literal's member
    page: Annotated[int, Query(ge=1, le=MAX_PAGES)] = 1,
    junk: Annotated[bool, Query()] = False,
) -> Response:
    """The collection as a grid of thumbnails, with filters, facets, a sort and pages."""
    service = service_of(request)
    filters = form_filters(request.query_params.getlist)
    found = await work(
        request, service.browse, sort, filters, (page - 1) * PER_PAGE, PER_PAGE, True, junk, heavy=False
    )
    params = [(k, v) for k, v in request.query_params.multi_items() if v]
    size = service.settings.ingest.thumbnail_size
    last = min(MAX_PAGES, max(1, -(-found.total // PER_PAGE)))
    context: dict[str, Any] = {
        "found": found,
        "cards": [views.listed_card(r, found.added.get(r.image_id), size) for r in found.results],
        "filters": filters,
        "here": BrowseHere(params),
        "sort": sort,
        "sorts": SORTS,
        "page_no": page,
        "junk": junk,
        "last_page": last,
        "pages": page_numbers(page, last),
        "kept": [(k, v) for k, v in params if k not in ("sort", "page")],
    }
    return render(request, "browse.html", context)


def page_numbers(current: int, last: int, around: int = 2) -> list[int | None]:
    """Page numbers to link: the first, the last and a few around the current one (None: a gap)."""
    shown = sorted({1, last, *range(max(1, current - around), min(last, current + around) + 1)})
    numbers: list[int | None] = []
    for n in shown:
        if numbers and n - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(n)
    return numbers
