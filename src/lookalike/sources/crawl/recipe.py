"""Crawl recipes: a shop's or gallery's JSON API, read page by page, its items' images indexed.

A recipe is a TOML file (see docs/cli.md, ``lookalike crawl --recipe``)::

    url = "https://shop.example/api/products?page={page}"
    items = "data.products"                      # where the list of items is in each page

    [pagination]
    kind = "page"                                # or "offset", "next", "none"
    max_pages = 200

    [fields]
    images = ["images[*].src"]                   # one path or several: every URL they give
    title = "name"
    description = "body_html"
    price = "variants[0].price"
    tags = "tags"                                # a list, or one comma-separated string
    link = "/products/{handle}"                  # the item's page, shown with results

    [headers]                                    # sent to the API's origin only
    X-Api-Key = "${SHOP_API_KEY}"                # ${NAME}: from the environment, when crawling

Values are paths into each item (:mod:`.jsonpath`), or templates of them.  Each page of
the API is a ``listing`` URL of the crawl frontier: :class:`ListingReader` turns its items
into file URLs (carrying title, description, tags, price and link to every image) and the
next page, so the one crawl loop fetches, resumes and re-crawls them as it does web pages.
Each listing keeps its recipe in the frontier (less its headers), so a resumed crawl reads it
the same way.  Request headers (``[headers]``) go to the API's own origin (scheme, host and
port: its pages, and images served there), never to another host nor through a redirect to
one; a value's ``${NAME}`` is the environment variable ``NAME``, read when the crawl starts
(:meth:`Recipe.request_headers`), so keys need not sit in the file, and a missing one is a
ConfigError naming it.  Header values are never shown (not in the recipe's repr either).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from selectolax.parser import HTMLParser

from lookalike.errors import ConfigError, InputError, Reason
from lookalike.records import CrawlUrl
from lookalike.sources.crawl.jsonpath import Path, Template, parse_path, scalar_text
from lookalike.sources.crawl.pages import absolute
from lookalike.sources.fetch import Fetched

__all__ = ["LISTING", "ListingReader", "Recipe", "load_recipe", "same_origin"]

#: The frontier kind of an API page that a recipe reads.
LISTING = "listing"
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Pages(_Strict):
    max_pages: int = Field(1000, ge=1, description="Most API pages read, from the first.")


class PageNumbers(_Pages):
    """``{page}`` in the URL counts from ``start`` by ``step``; a page with no items is the last."""

    kind: Literal["page"]
    start: int = 1
    step: int = Field(1, ge=1)

    def variables(self, index: int) -> dict[str, int]:
        return {"page": self.start + index * self.step}


class Offsets(_Pages):
    """``{offset}`` counts from ``start`` by ``limit`` (``{limit}`` is there too); an empty page ends."""

    kind: Literal["offset"]
    start: int = Field(0, ge=0)
    limit: int = Field(gt=0)

    def variables(self, index: int) -> dict[str, int]:
        return {"offset": self.start + index * self.limit, "limit": self.limit}


class NextLink(_Pages):
    """Each page names the next one at ``field`` (absolute or relative), or with no ``field`` in
    its HTTP ``Link: <url>; rel="next"`` header; a page that names none is the last."""

    kind: Literal["next"]
    field: str | None = None

    @field_validator("field")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)
        return value

    def variables(self, index: int) -> dict[str, int]:
        return {}


class Single(_Pages):
    """One page, no pagination."""

    kind: Literal["none"]

    def variables(self, index: int) -> dict[str, int]:
        return {}


Pagination = Annotated[PageNumbers | Offsets | NextLink | Single, Field(discriminator="kind")]
_REQUIRED = {"page": "page", "offset": "offset"}  # the placeholder each kind needs in the url


class Fields(_Strict):
    """Where each item keeps its images and what it says about them: paths or templates."""

    images: list[str] = Field(min_length=1)
    title: str | None = None
    description: str | None = None
    price: str | None = None
    currency: str | None = None
    tags: str | None = None
    link: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("images", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("images")
    @classmethod
    def _images(cls, value: list[str]) -> list[str]:
        for spec in value:
            _getter(spec)
        return value

    @field_validator("title", "description", "price", "currency", "tags", "link")
    @classmethod
    def _spec(cls, value: str | None) -> str | None:
        if value is not None:
            _getter(value)
        return value

    @field_validator("extra")
    @classmethod
    def _extra(cls, value: dict[str, str]) -> dict[str, str]:
        for name, spec in value.items():
            try:
                _getter(spec)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return value


class Recipe(_Strict):
    """A crawl recipe, validated: where the API is, how it pages, what its items say."""

    name: str | None = None
    url: str
    items: str = ""
    pagination: Pagination = Field(default_factory=lambda: Single(kind="none"))
    fields: Fields
    constants: dict[str, _Scalar] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a header name")
            if "\r" in text or "\n" in text:
                raise ValueError(f"{name}: a header value is one line")
            if "${" in _VARIABLE.sub("", text):
                raise ValueError(f"{name}: write an environment variable as ${{NAME}} (letters, digits, _)")
        return value

    def request_headers(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The ``[headers]`` to send, each ``${NAME}`` replaced by ``environ[NAME]``;
        ConfigError names a variable that is not set (never a value)."""
        sent = {}
        for name, text in self.headers.items():
            missing = [v for v in _VARIABLE.findall(text) if v not in environ]
            if missing:
                raise ConfigError(
                    f"recipe {self.name or self.url}: header {name} needs the environment variable"
                    f" {missing[0]}, which is not set"
                )
            sent[name] = _VARIABLE.sub(lambda m: environ[m.group(1)], text)
        return sent

    @field_validator("items")
    @classmethod
    def _items(cls, value: str) -> str:
        parse_path(value)
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        Template.parse(value)
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _placeholders(self) -> Recipe:
        kind = self.pagination.kind
        names = {path.text for path in Template.parse(self.url).paths}
        allowed = set(self.pagination.variables(0))
        if names - allowed:
            unknown = ", ".join(f"{{{n}}}" for n in sorted(names - allowed))
            given = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "no placeholders"
            raise ValueError(f"url: pagination kind {kind!r} does not fill {unknown} (it fills {given})")
        if kind in _REQUIRED and _REQUIRED[kind] not in names:
            raise ValueError(f"url: pagination {kind!r} needs {{{_REQUIRED[kind]}}} in the URL")
        return self

    def listing(self, index: int, url: str | None = None) -> CrawlUrl:
        """The frontier entry of page ``index`` (its URL from the template, or ``url``)."""
        if url is None:
            url = Template.parse(self.url).render(self.pagination.variables(index)) or self.url
        spec = self.model_dump(mode="json", exclude_defaults=True, exclude={"headers"})  # not kept
        return CrawlUrl(url, LISTING, index, metadata={"recipe": spec})


def same_origin(url: str, other: str) -> bool:
    """Whether two URLs have the same scheme, host and port (where a recipe's headers go)."""
    a, b = urlsplit(url), urlsplit(other)
    try:
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:  # a bad port
        return False


def load_recipe(path: str | FilePath) -> Recipe:
    """Read and validate a recipe file; ConfigError names the file and the bad key."""
    file = FilePath(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the recipe {file}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"recipe {file} is not valid TOML: {exc}") from None
    data.setdefault("name", file.stem)
    return parse_recipe(data, str(file))


def parse_recipe(data: Mapping[str, Any], where: str = "recipe") -> Recipe:
    """Validate a recipe given as a mapping (a TOML file's, or one kept in the frontier)."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ConfigError(f"recipe {where}: {problems}") from None


def _problem(error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    if len(loc) > 2 and loc[0] == "pagination":  # pydantic puts the kind in: pagination.next.field
        del loc[1]
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":
        ctx = error["ctx"]
        loc.append("kind")
        message = f"{ctx['tag']!r} is not a kind of pagination: one of {ctx['expected_tags']}"
    return f"{'.'.join(loc)}: {message}" if loc else message


# ---- reading a listing ------------------------------------------------------------------


class _Getter:
    """A field's value in an item: a path's values, or a template's one rendering."""

    def __init__(self, spec: str) -> None:
        self.template = Template.parse(spec) if "{" in spec or "}" in spec else None
        self.path: Path | None = None if self.template else parse_path(spec)

    def values(self, item: Any) -> list[Any]:
        if self.template is not None:
            rendered = self.template.render(item)
            return [rendered] if rendered else []
        assert self.path is not None
        return self.path.values(item)

    def text(self, item: Any) -> str | None:
        for value in self.values(item):
            if not isinstance(value, Mapping | list) and (text := _clean(scalar_text(value))):
                return text
        return None


@lru_cache(maxsize=512)
def _getter(spec: str) -> _Getter:
    return _Getter(spec)


@lru_cache(maxsize=64)
def _recipe_of(spec: str) -> Recipe:
    return parse_recipe(json.loads(spec), "kept in the crawl frontier")


#: Given the file entries an API page names now, brings what is known of them up to date
#: (their frontier rows, the places already indexed); returns how many places changed.
Refresh = Callable[[Sequence[CrawlUrl]], int]


class ListingReader:
    """Reads a fetched API page: its items' images (with their metadata) and the next page.

    Called by the crawler for each ``listing`` URL; counts what it read.  A listing is read
    with the recipe it was found by, unless ``recipe`` is that recipe as it is now (the same
    name and URL): then with ``recipe``, so an edited mapping applies to the pages read again.
    ``refresh`` keeps the images found before in step with their items (a price that changed).
    """

    def __init__(
        self, progress: Any = None, refresh: Refresh | None = None, recipe: Recipe | None = None
    ) -> None:
        self.progress = progress or (lambda event, n: None)
        self.refresh, self.recipe = refresh, recipe
        self.items = 0
        self.images = 0  # image URLs the items named
        self.without_images = 0  # items that named none
        self.changed = 0  # places indexed before whose item says something new

    def __call__(self, entry: CrawlUrl, fetched: Fetched) -> list[CrawlUrl]:
        stored = entry.metadata.get("recipe") or {}
        try:
            now = self.recipe
            recipe = (
                now
                if now is not None and _same(now, stored)
                else _recipe_of(json.dumps(stored, sort_keys=True))
            )
        except ConfigError as exc:  # a row no recipe crawl made
            raise InputError(
                Reason.UNREADABLE, f"no usable recipe for this listing: {exc}", entry.url
            ) from None
        try:
            document = json.loads(fetched.data)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InputError(Reason.UNREADABLE, f"not JSON: {exc}", fetched.url) from None
        items = _items(recipe, document, fetched.url)
        named: dict[str, CrawlUrl] = {}  # an image that several items name: the last one's
        for item in items:
            entries = list(item_entries(recipe, item, fetched.url, entry.depth))
            self.without_images += not entries
            named.update((e.url, e) for e in entries)
        found = list(named.values())
        self.items += len(items)
        self.images += len(found)
        if self.refresh is not None and found:
            self.changed += self.refresh(found)
        self.progress("item", len(items))
        following = _following(recipe, entry, document, fetched, bool(items))
        return [*found, *([following] if following else [])]


def _same(recipe: Recipe, stored: Mapping[str, Any]) -> bool:
    """Whether a listing's stored recipe is ``recipe`` (perhaps edited since): the same name and URL."""
    return (stored.get("name"), stored.get("url")) == (recipe.name, recipe.url)


def _items(recipe: Recipe, document: Any, url: str) -> list[Any]:
    path = parse_path(recipe.items)
    values = path.values(document)
    if "*" in path.steps:
        return values
    if not values:
        return []
    found = values[0]
    if isinstance(found, Mapping):
        return [found]
    if not isinstance(found, list):
        what = type(found).__name__
        raise InputError(Reason.UNREADABLE, f"items {recipe.items!r} is a {what}, not a list of items", url)
    return found


def _following(
    recipe: Recipe, entry: CrawlUrl, document: Any, fetched: Fetched, had_items: bool
) -> CrawlUrl | None:
    """The next page's entry, or None when this was the last."""
    url, headers = fetched.url, fetched.headers
    pagination = recipe.pagination
    index = entry.depth + 1
    if index >= pagination.max_pages or isinstance(pagination, Single):
        return None
    if isinstance(pagination, NextLink):
        target = _getter(pagination.field).text(document) if pagination.field else _link_next(headers)
        following = absolute(url, target)
        return recipe.listing(index, following) if following and following != url else None
    return recipe.listing(index) if had_items else None


_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL_NEXT = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"[^"]*\bnext\b[^"]*"|next\b)""", re.I)


def _link_next(headers: Mapping[str, str]) -> str | None:
    """The ``rel="next"`` target of an HTTP ``Link`` header (RFC 8288), if there is one."""
    for match in _LINK.finditer(headers.get("link", "")):
        if _REL_NEXT.search(match.group(2)):
            return match.group(1).strip()
    return None


def item_entries(recipe: Recipe, item: Any, base: str, depth: int = 0) -> Iterator[CrawlUrl]:
    """The file entries of one item: each image URL, with the item's metadata."""
    fields = recipe.fields
    link = absolute(base, _text(fields.link, item))
    extra: dict[str, Any] = {name: value for name, value in recipe.constants.items()}
    for name in ("price", "currency"):
        value = _scalar(getattr(fields, name), item)
        if value is not None:
            extra[name] = value
    for name, spec in fields.extra.items():
        values = [v for v in _getter(spec).values(item) if not isinstance(v, Mapping)]
        if values:
            extra[name] = values[0] if len(values) == 1 else values
    metadata = {"text": _text(fields.description, item), "tags": _tags(fields.tags, item), "extra": extra}
    title = _text(fields.title, item)
    for url in dict.fromkeys(_image_urls(fields.images, item, base)):
        yield CrawlUrl(url, "file", depth, page_url=link, title=title, metadata=metadata)


def _image_urls(specs: list[str], item: Any, base: str) -> Iterator[str]:
    for spec in specs:
        for value in _getter(spec).values(item):
            for candidate in value if isinstance(value, list) else [value]:
                url = absolute(base, candidate) if isinstance(candidate, str) else None
                if url:
                    yield url


def _text(spec: str | None, item: Any) -> str | None:
    return _getter(spec).text(item) if spec else None


def _scalar(spec: str | None, item: Any) -> _Scalar | None:
    """A price or a currency as the API gives it: a number stays a number."""
    if not spec:
        return None
    for value in _getter(spec).values(item):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _tags(spec: str | None, item: Any) -> list[str]:
    if not spec:
        return []
    found: list[str] = []
    for value in _getter(spec).values(item):
        for tag in value if isinstance(value, list) else [value]:
            if isinstance(tag, str):
                found += [t.strip() for t in tag.split(",")]
            elif not isinstance(tag, Mapping | list):
                found.append(scalar_text(tag))
    return list(dict.fromkeys(t for t in found if t))


def _clean(text: str) -> str | None:
    """Plain words: markup (a ``body_html``) read as text, white space folded."""
    if "<" in text and ">" in text:
        text = HTMLParser(text).text(separator=" ")
    return _SPACE.sub(" ", text).strip() or None
