"""Reading requests: search and add bodies as JSON, multipart forms or query strings.

Each shape is validated by one pydantic model, so a bad ``k`` reads the same
(HTTP 422) whether it came in JSON, a form or a query string.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
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
    "MAX_ID",
    "AddBody",
    "ImageId",
    "OptionalImageId",
    "SearchBody",
    "form_filters",
    "read_add",
    "read_search",
    "search_query",
    "upload_uri",
    "validated",
]

_FIELD = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
FORM_LIMITS: dict[str, Any] = {"max_files": 1, "max_fields": 64, "max_part_size": 64 * 1024}
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
    include_junk: bool = Field(False, description="Also return junk images (blank, tiny, spacer, placeholder).")
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


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    """``data`` checked by ``model``; problems become HTTP 422 like any FastAPI validation error."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _json_body(model: type[M], raw: bytes) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


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
    """A search from a JSON body or a (multipart) form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        body = _json_body(SearchBody, await request.body())
        image = _base64(body.image, max_upload) if body.image is not None else None
        return search_query(body, image)
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form(**FORM_LIMITS)
        image = await read_upload(form, max_upload)
        fields = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
        data: dict[str, Any] = {
            k: fields[k] for k in ("url", "id", "k", "offset", "collapse", "facets", "include_junk") if k in fields
        }
        if "text" in fields or "q" in fields:
            data["text"] = fields.get("text", fields.get("q"))
        if "signals" in fields:
            data["signals"] = [s.strip() for s in fields["signals"].split(",") if s.strip()]
        data["filters"] = form_filters(form.getlist)
        return search_query(validated(SearchBody, data), image)
    raise ApiError(415, "unsupported_media_type", "send application/json or multipart/form-data")


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
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        body = _json_body(AddBody, await request.body())
        if not body.url:
            raise ApiError(400, "bad_request", "JSON adds need 'url'; upload a file as multipart/form-data")
        return None, body.url, body, ""
    if kind == "multipart/form-data":
        form = await request.form(**FORM_LIMITS)
        data = await read_upload(form, max_upload)
        fields = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
        values: dict[str, Any] = {k: fields[k] for k in ("title", "text", "tags", "page_url") if k in fields}
        if "extra" in fields:
            try:
                values["extra"] = json.loads(fields["extra"])
            except ValueError:
                raise ApiError(400, "bad_request", "'extra' must be a JSON object") from None
        body = validated(AddBody, values)
        upload = form.get("file") or form.get("image")
        name = upload.filename if isinstance(upload, UploadFile) and upload.filename else "upload"
        if data is None:
            raise ApiError(400, "bad_request", "send the image in a 'file' field (or JSON with 'url')")
        return data, None, body, name
    raise ApiError(415, "unsupported_media_type", "send multipart/form-data (a file) or application/json")


def upload_uri(sha256: str, filename: str) -> str:
    """The location recorded for an uploaded image: ``upload://<hash>/<file name>``."""
    name = re.sub(r"[^\w.\- ]+", "_", filename.replace("\\", "/").rsplit("/", 1)[-1])[:200] or "upload"
    return f"upload://{sha256[:16]}/{name}"
