"""Reading requests: search and add bodies as JSON, multipart forms or query strings.

Each shape is validated by one pydantic model, so a bad ``k`` reads the same
(HTTP 422) whether it came in JSON, a form or a query string.  A POST may carry any
of its fields in the query string too (``POST /api/search?k=5`` with a file); a field
given in both places, or a query parameter the endpoint does not take, is refused
with 422 naming it, never ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import Path as PathParameter
from fastapi import Query as QueryParameter
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from lookalike.api.errors import ApiError
from lookalike.api.facets import FACETS
from lookalike.api.limits import too_large
from lookalike.api.service import Query
from lookalike.records import Provenance

__all__ = [
    "ADD_FIELDS",
    "FILTER_FIELDS",
    "MAX_ID",
    "SEARCH_FIELDS",
    "AddBody",
    "ImageId",
    "OptionalImageId",
    "SearchBody",
    "form_filters",
    "invalid",
    "joined",
    "query_fields",
    "read_add",
    "read_search",
    "search_query",
    "upload_uri",
    "validated",
]

_FIELD = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
FORM_LIMITS: dict[str, Any] = {"max_files": 1, "max_fields": 64, "max_part_size": 64 * 1024}
#: Search fields given once (``q`` is ``text``), in a form, a JSON body or a POST's query string.
SEARCH_FIELDS = ("text", "q", "url", "id", "k", "offset", "signals", "collapse", "facets", "include_junk")
#: Filters: repeated fields in forms and query strings (``tag=cat&filter=licence:CC-BY``).
FILTER_FIELDS = (*FACETS, "filter")
#: Metadata of an added image, in a form, a JSON body or a POST's query string.
ADD_FIELDS = ("url", "title", "text", "tags", "page_url", "extra")
#: Image ids are 64-bit signed integers in both catalogs; a larger one cannot name an image.
MAX_ID = 2**63 - 1
ImageId = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="An indexed image's id.")]
OptionalImageId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID, description="An indexed image's id.")]


class SearchBody(BaseModel):
    """A search as JSON.  Give at most one of ``image``, ``url`` and ``id``, and/or ``text``."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, max_length=1000, description="Words to search for.")
    url: str | None = Field(None, max_length=4096, description="An image URL (public addresses only).")
    id: int | None = Field(None, ge=1, le=MAX_ID, description="An indexed image's id: find images like it.")
    image: str | None = Field(None, description="The image's bytes, base64-encoded.")
    k: int | None = Field(None, ge=1, le=1000, description="Results per page [default: search.k].")
    offset: int = Field(0, ge=0, le=1000, description="Results to skip (paging).")
    signals: list[str] | None = Field(None, max_length=16, description="Signals to search with.")
    collapse: bool = Field(True, description="Fold near-identical results into the best one.")
    facets: bool = Field(False, description="Count results per source, tag, format and size.")
    include_junk: bool = Field(
        False, description="Also return junk images (blank, tiny, spacer, placeholder)."
    )
    filters: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Field → accepted values: source, tag, format, size, or an extra metadata "
        "field such as licence.  A result passes when each field has one of its values.",
    )

    @field_validator("filters", mode="before")
    @classmethod
    def _values_as_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("filters")
    @classmethod
    def _check_filters(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if len(value) > 16:
            raise ValueError("at most 16 filter fields")
        for name, accepted in value.items():
            if not _FIELD.match(name):
                raise ValueError(f"bad filter field name {name!r}")
            if len(accepted) > 32 or any(len(a) > 500 for a in accepted):
                raise ValueError(f"too many or too long values for filter {name!r}")
        return {k: v for k, v in value.items() if v}


class AddBody(BaseModel):
    """Metadata of an image being added; as JSON it also names the image ``url`` to fetch."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=4096, description="Image URL to fetch and add (JSON only).")
    title: str | None = Field(None, max_length=1000)
    text: str | None = Field(None, max_length=20_000, description="Words to find the image by.")
    tags: list[str] = Field(default_factory=list, max_length=100)
    page_url: str | None = Field(None, max_length=4096, description="The page the image appears on.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Any other fields: price, licence...")

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t for t in value.replace(",", " ").split() if t]
        return value

    def provenance(self, uri: str, url: str | None = None) -> Provenance:
        return Provenance(
            uri=uri,
            url=url,
            page_url=self.page_url,
            title=self.title,
            text=self.text,
            tags=tuple(self.tags),
            extra=self.extra,
        )


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Mapping[str, Any], query: Collection[str] = ()) -> M:
    """``data`` checked by ``model``; problems become HTTP 422 like any FastAPI validation error.
    ``query``: the fields that came from the query string, whose problems say so (``query.k``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors(include_url=False)
        for problem in problems:
            if problem["loc"] and problem["loc"][0] in query:
                problem["loc"] = ("query", *problem["loc"])
        raise RequestValidationError(problems) from None


def search_query(body: SearchBody, image: bytes | None = None) -> Query:
    """The service query of a validated search body."""
    return Query(
        image=image,
        url=body.url,
        image_id=body.id,
        text=body.text,
        k=body.k,
        offset=body.offset,
        signals=tuple(body.signals) if body.signals else None,
        collapse=body.collapse,
        filters=body.filters,
        facets=body.facets,
        include_junk=body.include_junk,
    )


def form_filters(getlist: Callable[[str], list[Any]]) -> dict[str, list[str]]:
    """Filters from repeated form or query fields: ``tag=cat``, ``filter=licence:CC-BY``."""
    filters: dict[str, list[str]] = {name: [str(v) for v in getlist(name) if v] for name in FACETS}
    for item in getlist("filter"):
        name, sep, value = str(item).partition(":")
        if sep and value:
            filters.setdefault(name.strip(), []).append(value.strip())
    return {k: v for k, v in filters.items() if v}


async def read_search(request: Request, max_upload: int) -> Query:
    """A search from a JSON body or a (multipart) form, and the POST's query string."""
    kind = _kind(request)
    given = _search_fields(query_fields(request, SEARCH_FIELDS, FILTER_FIELDS), "query")
    filters = form_filters(request.query_params.getlist)
    if kind == "application/json":
        data = joined(_json_object(await request.body()), given)
        if filters:
            data = joined(data, {"filters": filters})
        body = validated(SearchBody, data, given.keys() | ({"filters"} if filters else set()))
        image = _base64(body.image, max_upload) if body.image is not None else None
        return search_query(body, image)
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form(**FORM_LIMITS)
        image = await read_upload(form, max_upload)
        data = joined(_search_fields(_strings(form, SEARCH_FIELDS), "form"), given)
        data["filters"] = _added(form_filters(form.getlist), filters)
        return search_query(validated(SearchBody, data, given), image)
    raise ApiError(415, "unsupported_media_type", "send application/json or multipart/form-data")


def _kind(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _strings(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    """The form's non-empty text fields among ``names``."""
    return {k: v for k, v in form.items() if k in names and isinstance(v, str) and v != ""}


def _search_fields(fields: Mapping[str, str], where: str) -> dict[str, Any]:
    """Form or query-string fields as the search body has them: ``q`` is ``text``, signals a list."""
    data: dict[str, Any] = {k: v for k, v in fields.items() if k not in ("q", "signals")}
    if "q" in fields:
        if "text" in fields:
            raise invalid(where, "q", "give the words once, as 'text' or as 'q'")
        data["text"] = fields["q"]
    if "signals" in fields:
        data["signals"] = [s.strip() for s in fields["signals"].split(",") if s.strip()]
    return data


def _added(first: dict[str, list[str]], more: dict[str, list[str]]) -> dict[str, list[str]]:
    """Repeated filter fields of a form and of the query string, together."""
    return {k: first.get(k, []) + more.get(k, []) for k in {**first, **more}}


def query_fields(request: Request, names: tuple[str, ...], repeated: tuple[str, ...] = ()) -> dict[str, str]:
    """The fields a POST carries in its query string: each of ``names`` at most once, and the
    ``repeated`` ones (read with ``getlist``); any other parameter is refused (422)."""
    params = request.query_params
    for name in params:
        if name not in names and name not in repeated:
            takes = ", ".join((*names, *repeated))
            raise invalid("query", name, f"unknown query parameter; this endpoint takes {takes}")
        if name in names and len(params.getlist(name)) > 1:
            raise invalid("query", name, "given more than once")
    return {k: params[k] for k in names if params.get(k)}


def joined(body: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, Any]:
    """A body's fields and the query string's; a field in both is refused (422), not chosen."""
    for name in query:
        if name in body:
            raise invalid("query", name, "given both in the query string and in the body: give it once")
    return {**body, **query}


def invalid(where: str, name: str, message: str) -> RequestValidationError:
    """A 422 about one parameter, shaped like FastAPI's own validation errors."""
    return RequestValidationError([{"loc": (where, name), "msg": message, "type": "value_error"}])


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise invalid("body", "json", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid("body", "json", "the body must be a JSON object")
    return data


async def read_upload(form: FormData, max_upload: int) -> bytes | None:
    """The bytes of the form's ``file`` (or ``image``) field, if one was sent and is not empty."""
    upload = form.get("file") or form.get("image")
    if not isinstance(upload, UploadFile):
        return None
    if upload.size is not None and upload.size > max_upload:
        raise too_large(max_upload)
    data = await upload.read()
    if len(data) > max_upload:
        raise too_large(max_upload)
    return data or None


def _base64(text: str, max_upload: int) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_request", "'image' is not valid base64") from None
    if len(data) > max_upload:
        raise too_large(max_upload)
    return data


async def read_add(request: Request, max_upload: int) -> tuple[bytes | None, str | None, AddBody, str]:
    """(uploaded bytes, or a URL to fetch; metadata; the upload's file name) of an add request."""
    kind = _kind(request)
    given = query_fields(request, ADD_FIELDS)
    if kind == "application/json":
        body = validated(AddBody, joined(_json_object(await request.body()), _extra_parsed(given)), given)
        if not body.url:
            raise ApiError(400, "bad_request", "JSON adds need 'url'; upload a file as multipart/form-data")
        return None, body.url, body, ""
    if kind == "multipart/form-data":
        form = await request.form(**FORM_LIMITS)
        data = await read_upload(form, max_upload)
        values = _extra_parsed(joined(_strings(form, ADD_FIELDS), given))
        if "url" in values:
            raise ApiError(400, "bad_request", "a form uploads the image in 'file'; to add by URL, send JSON")
        body = validated(AddBody, values, given)
        upload = form.get("file") or form.get("image")
        name = upload.filename if isinstance(upload, UploadFile) and upload.filename else "upload"
        if data is None:
            raise ApiError(400, "bad_request", "send the image in a 'file' field (or JSON with 'url')")
        return data, None, body, name
    raise ApiError(415, "unsupported_media_type", "send multipart/form-data (a file) or application/json")


def _extra_parsed(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` from a form or a query string is a JSON object in text."""
    values = dict(fields)
    if isinstance(values.get("extra"), str):
        try:
            values["extra"] = json.loads(values["extra"])
        except ValueError:
            raise ApiError(400, "bad_request", "'extra' must be a JSON object") from None
    return values


def upload_uri(sha256: str, filename: str) -> str:
    """The location recorded for an uploaded image: ``upload://<hash>/<file name>``."""
    name = re.sub(r"[^\w.\- ]+", "_", filename.replace("\\", "/").rsplit("/", 1)[-1])[:200] or "upload"
    return f"upload://{sha256[:16]}/{name}"
