"""The web page: search, results, an image's page and the collection's page, rendered on the server.

Every page works without JavaScript; ``static/app.js`` adds drop, paste and a
preview of the chosen image.  A search with an uploaded image is a POST that
keeps the image (:mod:`lookalike.api.queries`: in the data folder, by its SHA-256) and
redirects to ``/?img=SHA256``, so result pages can be reloaded, paged, filtered and shared,
after a restart too.  Browsing without a query is :mod:`lookalike.api.browse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from lookalike.api import markup, views
from lookalike.api.errors import describe
from lookalike.api.facets import FACETS
from lookalike.api.forms import FORM_LIMITS, ImageId, OptionalImageId, SafeMode, form_filters, read_upload
from lookalike.api.rest import image_response, image_type, page_may_write, service_of, work
from lookalike.api.service import Page
from lookalike.api.service import Query as SearchQuery
from lookalike.errors import LookalikeError
from lookalike.records import VIDEO_FORMATS
from lookalike.search.notes import NO_CONTENT_MODEL, NO_LOOKALIKES, notes
from lookalike.search.planner import Result
from lookalike.search.tiers import worth_showing
from lookalike.usecases.search import SAFETY

__all__ = ["PAGE_SIZE", "render", "router", "templates"]

#: Results per page on the web page.
PAGE_SIZE = 24
#: Newest images shown below the search box on the start page.
RECENT_SHOWN = 12
#: Similar images shown on an image's page.
SIMILAR_SHOWN = 12
#: Content-Security-Policy of every page: our own scripts and styles only.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

router = APIRouter(include_in_schema=False)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lookalike", "web/templates"),
        autoescape=jinja2.select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(bytes=views.human_bytes, when=views.when, marked=markup.marked, linked=markup.linked)
    # may_write(request): whether to offer write actions (pages never hold the API key)
    env.globals.update(facet_label=views.facet_label, FACETS=FACETS, may_write=page_may_write)
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page with the security headers every page gets."""
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    return templates.TemplateResponse(request, name, context, status_code=status, headers=headers)


class Here:
    """The current search's query string; builds links that change one thing of it."""

    def __init__(self, params: list[tuple[str, str]]) -> None:
        self.params = params

    def url(self, **changes: object) -> str:
        """This search with parameters replaced (None drops one); a new filter or page resets paging."""
        kept = [(k, v) for k, v in self.params if k not in changes and k != "page"]
        kept += [(k, str(v)) for k, v in changes.items() if v not in (None, "")]
        return "/?" + urlencode(kept)

    @staticmethod
    def _pair(field: str, value: str) -> tuple[str, str]:
        return (field, value) if field in FACETS else ("filter", f"{field}:{value}")

    def active(self, field: str, value: str) -> bool:
        return self._pair(field, value) in self.params

    def toggle(self, field: str, value: str) -> str:
        """This search with a filter value added, or removed when it is on."""
        pair = self._pair(field, value)
        kept = [p for p in self.params if p[0] != "page" and p != pair]
        if pair not in self.params:
            kept.append(pair)
        return "/?" + urlencode(kept)


@router.get("/", response_class=HTMLResponse)
async def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=1000)] = "",
    img: Annotated[str, Query(max_length=64)] = "",
    id: OptionalImageId = None,
    page: Annotated[int, Query(ge=1, le=50)] = 1,
    junk: Annotated[bool, Query()] = False,
    safe: SafeMode = None,
) -> Response:
    """The search page; with a query, its results (junk images too with ``junk=1``; flagged
    exposure blurred, hidden or shown with ``safe=``)."""
    service = service_of(request)
    safety = await work(request, service.safe_mode, safe, heavy=False)
    mode = safety or "show"
    words, url = views.split_query(q)
    if url is not None:  # what is in the box wins over an earlier image
        img, id = "", None
    elif img:
        id = None
    filters = form_filters(request.query_params.getlist)
    params = [(k, v) for k, v in request.query_params.multi_items() if v and k not in ("img", "id")]
    params += [("img", img)] if img else []
    params += [("id", str(id))] if id is not None else []
    context: dict[str, Any] = {
        "q": q,
        "img": img,
        "id": id,
        "filters": filters,
        "here": Here(params),
        "searched": bool(words or url or img or id is not None),
        "page_no": page,
        "junk": junk,
        "safe": mode,
        "safety_on": safety is not None,
    }
    status = 200
    if not context["searched"]:
        context["summary"] = await _summary(request)
        context["recent"] = await _recent(request, mode)
        return render(request, "search.html", context)
    image = service.queries.get(img) if img else None
    if img and image is None:
        context["error"] = {
            "reason": "expired",
            "message": f"The image you searched with ({img[:12]}…) is no longer kept on this server, or was "
            f"never uploaded here (it keeps the latest {service.settings.serve.keep_queries or 64} uploads: "
            "serve.keep_queries). Drop, paste or choose it again.",
        }
        return render(request, "search.html", context, 404)
    query = SearchQuery(
        image=image,
        url=url,
        image_id=id,
        text=words or None,
        k=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        filters=filters,
        facets=True,
        include_junk=junk,
        safe=mode == "hide",
    )
    try:
        found: Page = await work(request, service.search, query)
    except LookalikeError as exc:
        status, reason, message = describe(exc)
        context["error"] = {"reason": reason, "message": message}
        return render(request, "search.html", context, status)
    bits = await work(request, service.signal_bits, heavy=False)
    size = service.settings.ingest.thumbnail_size
    facts = await _query_facts(request, img, image, id)
    shown = (facts["src"], facts["width"], facts["height"]) if facts else None
    content = await work(request, service.content_signals, heavy=False)
    _, weaker = worth_showing(found.results, content) if page == 1 else ([], [])  # later pages: all weaker
    cards = [views.card(r, found.offset + n + 1, bits, size, shown) for n, r in enumerate(found.results)]
    views.veiled(cards, mode)
    weak_ids = {r.image_id for r in weaker}
    strong = [c for c in cards if c["id"] not in weak_ids]
    context.update(
        found=found,
        cards=strong,
        weaker=[c for c in cards if c["id"] in weak_ids],
        # an image query's matches in sections by tier; words decide a query that has them
        sections=views.tier_sections(strong)
        if (img or id is not None or url) and not words and page == 1
        else [],
        query=facts,
        notes=[n for n in found.notes if n not in _LOOKALIKE_NOTES],
        lookalike_notes=[n for n in found.notes if n in _LOOKALIKE_NOTES],
        content_model=bool(content),
        pages=views.pages(found, PAGE_SIZE),
    )
    return render(request, "search.html", context, status)


_LOOKALIKE_NOTES = (NO_LOOKALIKES, NO_CONTENT_MODEL)


async def _query_facts(
    request: Request, token: str, data: bytes | None, image_id: int | None
) -> dict[str, Any] | None:
    """The query image's preview URL, pixel size, file size and format, to show it beside the
    results and draw matched regions on it; None for a URL query (the page has not its bytes)."""
    size = service_of(request).settings.ingest.thumbnail_size
    if data is not None:
        facts = views.query_facts(data)
        if facts is None:
            return None
        return {
            "src": f"/query/{token}",
            **facts,
            "pixel": views.is_small(facts["width"], facts["height"], size),
        }
    if image_id is not None:
        image = (await work(request, service_of(request).info, image_id, heavy=False))["image"]
        if not image["width"] or not image["height"]:
            return None
        return {
            "src": f"/api/images/{image_id}/thumbnail",
            **{k: image[k] for k in ("width", "height", "bytes", "format")},
            "viewable": True,  # the thumbnail is a JPEG or PNG
            "pixel": views.is_small(image["width"], image["height"], size),
        }
    return None


@router.post("/")
async def search_upload(request: Request) -> Response:
    """A search form with a file: keep the image, then show its results at ``/?img=TOKEN``."""
    service = service_of(request)
    form = await request.form(**FORM_LIMITS)
    data = await read_upload(form, service.settings.serve.max_upload_bytes)
    # the form's fields, or the action's query string (POST /?q=...) for those it lacks
    given = {**request.query_params, **{k: v for k, v in form.items() if isinstance(v, str) and v}}
    q = str(given.get("q") or "")
    params: dict[str, str] = {"q": q} if q else {}
    if data is not None:
        params["img"] = service.queries.put(data)
    elif given.get("img"):
        params["img"] = str(given["img"])
    elif given.get("id"):
        params["id"] = str(given["id"])
    return RedirectResponse("/?" + urlencode(params), status_code=303)


@router.get("/query/{token}")
async def query_image(request: Request, token: str) -> Response:
    """An uploaded query image, for the preview on its result pages."""
    data = service_of(request).queries.get(token)
    if data is None or not image_type(data).startswith("image/"):
        return Response(status_code=404)
    return image_response(request, data, "private, max-age=3600")


@router.get("/images/{image_id}", response_class=HTMLResponse)
async def image_page(request: Request, image_id: ImageId, safe: SafeMode = None) -> Response:
    """One image: its facts, every place it was seen, near-identical and similar images (flagged
    exposure blurred until clicked, unless ``safe=show``; similar images hidden with ``safe=hide``)."""
    service = service_of(request)
    mode = await work(request, service.safe_mode, safe, heavy=False) or "show"
    facts = await work(request, service.info, image_id, heavy=False)
    near, similar = await work(request, service.neighbours, image_id, SIMILAR_SHOWN * 3, mode == "hide")
    bits = await work(request, service.signal_bits, heavy=False)
    size = service.settings.ingest.thumbnail_size
    image = facts["image"]
    places = [views.place(o, image_id, facts.get("pages")) for o in facts["occurrences"]]
    shown = (f"/api/images/{image_id}/thumbnail", image["width"], image["height"]) if image["width"] else None
    context = {
        "image": image,
        "places": places,
        "features": facts["features"],
        "has_file": any(p["local"] for p in places),
        "video": image["format"] in VIDEO_FORMATS,  # played in the page, from its file
        "near": views.veiled([views.card(r, n + 1, bits, size) for n, r in enumerate(near)], mode),
        **await _similar(request, similar, bits, size, shown, mode),
        "flags": facts.get("flags", {}),
        "blurred": mode == "blur" and SAFETY in facts.get("flags", {}),
        "title": next((p["title"] for p in places if p["title"]), places[0]["name"] if places else ""),
        "pixel": views.is_small(image["width"], image["height"], size),
        "texts": facts.get("texts", []),
    }
    if context["texts"] and image["width"]:
        boxes = [t.get("box") for t in context["texts"]]
        context["text_region"] = views.text_boxes(boxes, image["width"], image["height"])
    return render(request, "image.html", context)


async def _similar(
    request: Request,
    found: list[Result],
    bits: Mapping[str, int],
    size: int,
    shown: tuple[str, int, int] | None,
    mode: str = "show",
) -> dict[str, Any]:
    """An image's similar images (its copies are near-identical ones) as the page shows them: the
    crops and look-alikes worth showing in sections, the weaker ones a click away, and the notes."""
    content = await work(request, service_of(request).content_signals, heavy=False)
    strong, weaker = worth_showing(found, content)
    weaker = [r for r in weaker if r.score >= views.SIMILAR_MIN_SCORE]
    cards = [
        views.card(r, n + 1, bits, size, shown) for n, r in enumerate([*strong, *weaker][:SIMILAR_SHOWN])
    ]
    views.veiled(cards, mode)
    said = notes(strong, text=None, by_image=True, content=content)
    return {
        "similar": views.tier_sections(cards[: len(strong)]),
        "similar_weaker": cards[len(strong) :],
        "lookalike_notes": said,
        "content_model": bool(content),
    }


@router.get("/dupes", response_class=HTMLResponse)
async def dupes_page(request: Request, crop: bool | None = None) -> Response:
    """Groups of the same picture side by side, the suggested keep, and the reviewer's choices
    (``?crop=true``: crops grouped with their picture too; default: ``search.dupes_tiers``)."""
    service = service_of(request)
    crops = "crop" in service.settings.search.dupes_tiers if crop is None else crop
    groups = await work(request, service.dupes, None, None, False, crops)
    return render(request, "dupes.html", {"groups": groups[:200], "total": len(groups), "crops": crops})


@router.get("/collection", response_class=HTMLResponse)
async def collection_page(request: Request) -> Response:
    """Counts, index sizes, the latest indexing runs, failures with reasons."""
    facts = await work(request, service_of(request).stats, 200)
    return render(request, "collection.html", {"stats": facts})


async def _summary(request: Request) -> dict[str, Any] | None:
    try:
        health = await work(request, service_of(request).health, heavy=False)
    except LookalikeError:
        return None
    return {"images": health["images"]}


async def _recent(request: Request, mode: str) -> dict[str, Any] | None:
    """The newest images, shown below the search box (None when the collection cannot be read)."""
    try:
        found = await work(
            request,
            service_of(request).browse,
            "-added",
            {},
            0,
            RECENT_SHOWN,
            False,
            False,
            mode == "hide",
            heavy=False,
        )
    except LookalikeError:
        return None
    size = service_of(request).settings.ingest.thumbnail_size
    return {
        "total": found.total,
        "cards": views.veiled(
            [views.listed_card(r, found.added.get(r.image_id), size) for r in found.results], mode
        ),
    }


def error_page(request: Request, status: int, reason: str, message: str) -> Response:
    """An error as a page, with the search box to start again."""
    return render(
        request, "error.html", {"status": status, "error": {"reason": reason, "message": message}}, status
    )
