"""The REST API under ``/api``: search, add, remove, look at images, stats and health.

Handlers parse the request here, on the event loop, and run everything that
touches the collection in a worker thread (:func:`work`), so decoding and FAISS
never block the loop.  Searches take one of ``serve.threads`` slots; cheap reads
(thumbnails, image facts) use the default thread pool, so a page of thumbnails
does not wait behind searches.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from lookalike.api.errors import ApiError
from lookalike.api.exposure import is_loopback
from lookalike.api.forms import (
    AddBody,
    DupeChoice,
    ImageId,
    OptionalImageId,
    SearchBody,
    form_filters,
    read_add,
    read_search,
    search_query,
    upload_uri,
    validated,
)
from lookalike.api.service import Page, Service
from lookalike.search.planner import Result

__all__ = ["image_type", "page_may_write", "router", "work"]

T = TypeVar("T")

router = APIRouter(prefix="/api", tags=["api"])


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def work(request: Request, call: Callable[..., T], *args: Any, heavy: bool = True, **kwargs: Any) -> T:
    """Run ``call`` in a worker thread; heavy calls take one of the ``serve.threads`` slots."""
    limiter = request.app.state.limiter if heavy else None
    return await anyio.to_thread.run_sync(functools.partial(call, *args, **kwargs), limiter=limiter)


def require_key(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """Write endpoints need ``serve.api_key`` (when set) as a bearer token or ``X-API-Key``.

    A browser request from another site (an ``Origin`` that is not this server's) is
    refused either way: without a key, a web page could otherwise post a form here.
    Without a key, the ``Host`` must also be a loopback name or address (or one of
    ``serve.allowed_hosts``): a DNS-rebinding page sends its own name as both Host and Origin.
    """
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise ApiError(403, "forbidden", f"writes from another site ({origin}) are refused")
    serve = service_of(request).settings.serve
    key = serve.api_key
    if key is None:
        _require_local_host(request.url.hostname, serve.allowed_hosts)
        return
    given = x_api_key
    if given is None and authorization and authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    if not given:
        raise ApiError(
            401,
            "unauthorized",
            "this endpoint needs the API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
            {"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
        raise ApiError(403, "forbidden", "the API key is wrong")


def _require_local_host(host: str | None, allowed: list[str]) -> None:
    if not _local_host(host, allowed):
        raise ApiError(
            403,
            "forbidden",
            f"writes without serve.api_key are accepted only for a loopback Host (this request named "
            f"{host!r}): set serve.api_key, or list the name in serve.allowed_hosts",
        )


def _local_host(host: str | None, allowed: list[str]) -> bool:
    name = (host or "").strip("[]").rstrip(".").lower()
    return is_loopback(name) or name in {a.lower() for a in allowed}


def page_may_write(request: Request) -> bool:
    """Whether the page's visitor could write without a key (pages never hold one): no
    ``serve.api_key`` and a loopback or allowed Host.  Pages hide write actions otherwise, or say
    that they need the key."""
    serve = service_of(request).settings.serve
    return serve.api_key is None and _local_host(request.url.hostname, serve.allowed_hosts)


def result_json(result: Result) -> dict[str, Any]:
    """A result as JSON: :meth:`Result.as_dict` plus links to its thumbnail, file and neighbours."""
    found = result.as_dict()
    image_id = result.image_id
    found["links"] = {
        "image": f"/api/images/{image_id}",
        "thumbnail": f"/api/images/{image_id}/thumbnail",
        "file": f"/api/images/{image_id}/file",
        "similar": f"/api/images/{image_id}/similar",
        "page": f"/images/{image_id}",
    }
    return found


def page_json(page: Page, query_image: str | None = None) -> JSONResponse:
    found: dict[str, Any] = {
        "results": [result_json(r) for r in page.results],
        "total": page.total,
        "complete": page.complete,
        "offset": page.offset,
        "k": page.k,
        "notes": page.notes,
    }
    if page.facets is not None:
        found["facets"] = {
            name: [{"value": v, "count": n} for v, n in counts] for name, counts in page.facets.items()
        }
    if query_image is not None:  # the upload, kept: search by it again with img=SHA256
        found["query_image"] = {
            "sha256": query_image,
            "search": f"/api/search?img={query_image}",
            "page": f"/?img={query_image}",
        }
    return JSONResponse(found)


_SEARCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SearchBody.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The query image."},
                        "text": {"type": "string", "description": "Words (also as 'q')."},
                        "url": {"type": "string"},
                        "id": {"type": "integer"},
                        "k": {"type": "integer"},
                        "offset": {"type": "integer"},
                        "signals": {"type": "string", "description": "Comma-separated, e.g. phash,colour."},
                        "collapse": {"type": "boolean"},
                        "facets": {"type": "boolean"},
                        "include_junk": {"type": "boolean", "description": "Also return junk images."},
                        "safe": {"type": "boolean", "description": "Leave out flagged exposure."},
                        "tag": {"type": "array", "items": {"type": "string"}},
                        "source": {"type": "array", "items": {"type": "string"}},
                        "format": {"type": "array", "items": {"type": "string"}},
                        "size": {"type": "array", "items": {"type": "string"}},
                        "filter": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "field:value on extra metadata, e.g. licence:CC-BY",
                        },
                    },
                }
            },
        },
    }
}


@router.post("/search", summary="Search by image upload, URL, id and/or words", openapi_extra=_SEARCH_BODY)
async def search_post(request: Request) -> JSONResponse:
    """Send a multipart form with the image in ``file``, or JSON (``image`` base64, ``url``, ``id``,
    ``text``, ``k``, ``offset``, ``signals``, ``filters``, ``facets``, ``include_junk``, ``safe``).  Any field but the image may
    instead be in the query string (``POST /api/search?k=5``); one given in both places, or an
    unknown query parameter, gets 422."""
    service = service_of(request)
    query = await read_search(request, service.settings.serve.max_upload_bytes)
    found = await work(request, service.search, query)
    kept = await work(request, service.queries.put, query.image, heavy=False) if query.image else None
    return page_json(found, kept)


@router.get("/search", summary="Search by words, id or image URL")
async def search_get(
    request: Request,
    q: Annotated[str | None, Query(max_length=1000, description="Words.")] = None,
    id: OptionalImageId = None,
    url: Annotated[str | None, Query(max_length=4096, description="An image URL.")] = None,
    img: Annotated[
        str | None,
        Query(max_length=64, description="An uploaded query image kept by its SHA-256 (query_image)."),
    ] = None,
    k: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    signals: Annotated[str | None, Query(description="Comma-separated signals.")] = None,
    collapse: bool = True,
    facets: bool = False,
    include_junk: Annotated[bool, Query(description="Also return junk images.")] = False,
    safe: Annotated[
        bool, Query(description="Leave out images the safety signal flagged (exposure).")
    ] = False,
    source: Annotated[list[str] | None, Query()] = None,
    tag: Annotated[list[str] | None, Query()] = None,
    format: Annotated[list[str] | None, Query()] = None,
    size: Annotated[list[str] | None, Query()] = None,
    filter: Annotated[list[str] | None, Query(description="field:value on extra metadata.")] = None,
) -> JSONResponse:
    service = service_of(request)
    body = validated(
        SearchBody,
        {
            "text": q,
            "url": url,
            "id": id,
            "k": k,
            "offset": offset,
            "signals": _names(signals),
            "collapse": collapse,
            "facets": facets,
            "include_junk": include_junk,
            "safe": safe,
            "filters": form_filters(request.query_params.getlist),
        },
    )
    query = search_query(body)
    if img:
        query = replace(query, image=await work(request, kept_query, service, img, heavy=False))
    return page_json(await work(request, service.search, query), img or None)


def kept_query(service: Service, token: str) -> bytes:
    """A kept upload by its SHA-256; 404 when it is unknown or was pruned."""
    data = service.queries.get(token)
    if data is None:
        raise ApiError(
            404,
            "not_found",
            f"no query image {token!r} is kept on this server (it keeps the latest "
            f"{service.settings.serve.keep_queries or 64} uploads: serve.keep_queries); upload it again",
        )
    return data


@router.get("/images/{image_id}/similar", summary="Images like an indexed image")
async def similar(
    request: Request,
    image_id: ImageId,
    k: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    signals: Annotated[str | None, Query(description="Comma-separated signals.")] = None,
    facets: bool = False,
    include_junk: Annotated[bool, Query(description="Also return junk images.")] = False,
    safe: Annotated[
        bool, Query(description="Leave out images the safety signal flagged (exposure).")
    ] = False,
) -> JSONResponse:
    body = validated(
        SearchBody,
        {
            "id": image_id,
            "k": k,
            "offset": offset,
            "signals": _names(signals),
            "facets": facets,
            "include_junk": include_junk,
            "safe": safe,
            "filters": form_filters(request.query_params.getlist),
        },
    )
    return page_json(await work(request, service_of(request).search, search_query(body)))


@router.post(
    "/images",
    summary="Add an image (multipart upload or JSON with a URL)",
    dependencies=[Depends(require_key)],
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": AddBody.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "title": {"type": "string"},
                            "text": {"type": "string"},
                            "tags": {"type": "string", "description": "Comma- or space-separated."},
                            "page_url": {"type": "string"},
                            "extra": {"type": "string", "description": "A JSON object: price, licence..."},
                        },
                    }
                },
            },
        }
    },
)
async def add_image(request: Request) -> JSONResponse:
    """Answers 201 with ``{"id", "new": true}`` for new content, 200 with ``"new": false`` when
    the same bytes were already indexed (the new place is recorded either way).  The metadata fields
    may instead be in the query string (``?title=...``); one given in both places gets 422."""
    service = service_of(request)
    data, url, body, name = await read_add(request, service.settings.serve.max_upload_bytes)
    if url is not None:
        data = await work(request, service.fetch, url)
        where = body.provenance(url, url)
    else:
        assert data is not None
        where = body.provenance(upload_uri(hashlib.sha256(data).hexdigest(), name))
    image_id, new = await work(request, service.add, data, where)
    return JSONResponse({"id": image_id, "new": new, "location": where.uri}, status_code=201 if new else 200)


@router.delete("/images/{image_id}", summary="Remove an image", dependencies=[Depends(require_key)])
async def remove_image(request: Request, image_id: ImageId) -> JSONResponse:
    removed = await work(request, service_of(request).remove, image_id)
    return JSONResponse({"removed": removed})


@router.get("/images/{image_id}", summary="An image's facts, every place it was seen, its features")
async def image_info(request: Request, image_id: ImageId) -> JSONResponse:
    return JSONResponse(await work(request, service_of(request).info, image_id, heavy=False))


@router.get("/images/{image_id}/thumbnail", summary="The thumbnail made at ingest (JPEG or PNG)")
async def thumbnail(request: Request, image_id: ImageId) -> Response:
    data = await work(request, service_of(request).thumbnail, image_id, heavy=False)
    return image_response(request, data, "public, max-age=600")


@router.get(
    "/images/{image_id}/file",
    summary="The original file (kept, or read again from its file, archive or bucket); a video in "
    "byte ranges, to play from a time (/file#t=SECONDS)",
)
async def original(request: Request, image_id: ImageId) -> Response:
    found = await work(request, service_of(request).video_file, image_id, heavy=False)
    if found is not None:
        return _video_response(*found)
    data, where = await work(request, service_of(request).original, image_id, heavy=False)
    response = image_response(request, data, "private, max-age=60")
    response.headers["Content-Disposition"] = _inline(where)
    return response


def _inline(where: str) -> str:
    name = where.rsplit("/", 1)[-1].replace('"', "")
    return f"inline; filename*=UTF-8''{quote(name, safe='')}"


def _video_response(path: Path, where: str) -> Response:
    """A video file; Starlette's file response answers Range requests, which players seek with."""
    kind = _VIDEO_TYPES.get(path.suffix.lower(), "application/octet-stream")
    headers = {
        "Cache-Control": "private, max-age=60",
        "X-Content-Type-Options": "nosniff",
        # the browser's own player loads the file again as media, from this origin (a sandbox's is null)
        "Content-Security-Policy": "default-src 'none'; media-src 'self'",
        "Content-Disposition": _inline(where),
    }
    return FileResponse(path, media_type=kind, headers=headers)


_VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
}


@router.get("/stats", summary="Counts, failures by reason, index sizes, latest scans")
async def stats(
    request: Request, failures: Annotated[int, Query(ge=0, le=1000, description="Failed files to list.")] = 20
) -> JSONResponse:
    return JSONResponse(await work(request, service_of(request).stats, failures))


@router.get(
    "/crawl/status",
    summary="The crawl frontier: URLs by state and by host, refusals and failures with reasons",
)
async def crawl_status(request: Request) -> JSONResponse:
    return JSONResponse(await work(request, service_of(request).crawl_status, heavy=False))


@router.get("/dupes", summary="Groups of the same picture, with the image to keep in each and why")
async def dupes(
    request: Request,
    max_bits: Annotated[
        int | None,
        Query(ge=0, le=576, description="Only images within this many phash bits (default: copy tier)."),
    ] = None,
    keep: Annotated[
        str | None,
        Query(
            description="Keep rules, comma-separated, first deciding: original, largest, lossless, metadata, "
            "oldest (default: search.dupes_keep, else all five in that order)."
        ),
    ] = None,
    include_junk: Annotated[bool, Query(description="Also group junk images (left out by default).")] = False,
    crop: Annotated[
        bool | None,
        Query(
            description="Also group a part of a picture with it (kind 'crop', verified by keypoints); "
            "default: whether search.dupes_tiers has 'crop' (it does not by default)."
        ),
    ] = None,
) -> JSONResponse:
    rules = [r.strip() for r in keep.split(",") if r.strip()] if keep else None
    groups = await work(request, service_of(request).dupes, max_bits, rules, include_junk, crop)
    return JSONResponse({"groups": groups})


@router.post(
    "/dupes/choice",
    summary="Remember a reviewer's choice for a group of duplicates",
    dependencies=[Depends(require_key)],
)
async def choose_dupes(request: Request, body: DupeChoice) -> JSONResponse:
    """``lookalike dupes`` and its actions follow it: another image kept, or the group left alone."""
    found = await work(request, service_of(request).choose_dupes, body.group, body.choice, body.keep)
    return JSONResponse(found)


@router.get("/health", summary="Whether the catalog and the indexes answer")
async def health(request: Request) -> JSONResponse:
    return JSONResponse(await work(request, service_of(request).health, heavy=False))


_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def image_type(data: bytes) -> str:
    """The content type of image bytes, from their magic bytes (never from a file name)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), "application/octet-stream")


def image_response(request: Request, data: bytes, cache: str) -> Response:
    """Image bytes with a sniffed type, an ETag, and headers that keep browsers from guessing."""
    etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=image_type(data), headers=headers)


def _names(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None
