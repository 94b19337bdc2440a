"""Plain values that travel between the layers (frozen dataclasses)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lookalike.errors import Reason

Box = tuple[int, int, int, int]  # x, y, width, height

__all__ = [
    "INTERNAL_FIELDS",
    "PAGE_MARK",
    "VIDEO_FORMATS",
    "Box",
    "CrawlUrl",
    "Extracted",
    "Failure",
    "ImageInfo",
    "Job",
    "Occurrence",
    "Provenance",
    "TextField",
    "clock",
    "frame_time",
    "frame_uri",
    "is_internal_field",
]

#: Formats of videos in the catalog: items without pixels of their own (their frames carry the features).
VIDEO_FORMATS = ("MP4", "MKV", "WEBM", "MOV", "AVI", "VIDEO")

#: A file linked from more than one page is seen at ``{uri}#page={page_url}`` on each page after the first.
PAGE_MARK = "#page="

#: Where a video or animation frame was seen: its file's uri and this, then its time in seconds.
FRAME_MARK = "#t="


def clock(seconds: float) -> str:
    """A time in a video as people write it: '00:01:23', with tenths when it is not a whole second."""
    whole, tenth = divmod(round(seconds * 10), 10)
    minutes, secs = divmod(whole, 60)
    text = f"{minutes // 60:02d}:{minutes % 60:02d}:{secs:02d}"
    return f"{text}.{tenth}" if tenth else text


def frame_uri(uri: str, seconds: float) -> str:
    """The place of the frame at ``seconds`` of the video or animation at ``uri`` ('v.mp4#t=83.24')."""
    return f"{uri}{FRAME_MARK}{f'{seconds:.3f}'.rstrip('0').rstrip('.')}"


#: Extra fields that are the catalog's own facts or keys, not metadata about the picture: a
#: sidecar file often repeats them (``bytes``, ``sha256``, ``width``); so are ``*_id`` keys and
#: ``_private`` ones.  What people read leaves them out; JSON keeps every field.
INTERNAL_FIELDS = frozenset(
    {"id", "ids", "image_id", "sha256", "sha1", "md5", "hash", "bytes", "file_size", "filesize"}
    | {"width", "height", "mode", "format", "present", "path", "file", "filename", "uri"}
)


def is_internal_field(key: str) -> bool:
    """Whether an extra field is a key or a fact of the catalog's rather than metadata."""
    name = key.strip().lower()
    return name in INTERNAL_FIELDS or name.startswith("_") or name.endswith(("_id", "_ids", "_sha256"))


def frame_time(uri: str, parent_id: int | None, box: object = None) -> float | None:
    """The time in seconds of a frame's place (a uri ending '#t=SECONDS', with a parent), else None."""
    if parent_id is None or box is not None or FRAME_MARK not in uri:
        return None
    try:
        return float(uri.rsplit(FRAME_MARK, 1)[1])
    except ValueError:
        return None


@dataclass(frozen=True)
class Provenance:
    """Where an image was seen, and what that place says about it."""

    uri: str  # a path, "archive.zip!/member.png", or a URL
    file: str | None = None  # the file on disk it came from (the archive for members)
    member: str | None = None  # the path inside the archive
    size: int | None = None
    mtime: float | None = None
    url: str | None = None
    page_url: str | None = None
    title: str | None = None
    text: str | None = None
    tags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None  # a tile: the sha256 of the sheet it was cut from
    box: Box | None = None  # a tile: where in the sheet, in the sheet's pixels


@dataclass(frozen=True)
class Failure:
    """Why an input could not be used."""

    reason: Reason
    detail: str


@dataclass(frozen=True)
class TextField:
    """A piece of text a signal read from an image (an OCR line, a tag, a caption), searched by words."""

    field: str  # what kind of text: "line", "tag", "caption", ...
    text: str
    confidence: float = 1.0  # in [0, 1]; scales the keyword score
    box: tuple[float, ...] | None = None  # where in the image: x0, y0, ..., x3, y3 in [0, 1] (a quad)


@dataclass(frozen=True)
class Extracted:
    """What decoding and the signals made of one file's bytes."""

    sha256: str
    size: int
    width: int = 0
    height: int = 0
    format: str = ""
    mode: str = ""
    features: Mapping[str, tuple[int, bytes]] = field(default_factory=dict)  # signal -> (version, payload)
    failure: Failure | None = None
    thumbnail: bytes = b""  # WebP, written to the thumbnail store, not to the catalog
    tiles: tuple[tuple[Box, Extracted], ...] = ()  # cells of a sheet, split off (ingest.tiles)
    texts: Mapping[str, tuple[TextField, ...]] = field(default_factory=dict)  # text signal -> its fields
    signal_failures: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # signal -> (version, why)
    flags: Mapping[str, str | None] = field(
        default_factory=dict
    )  # flag signal -> its reason, None: not flagged
    frames: tuple[tuple[float, Extracted], ...] = ()  # kept frames of a video or animation, by time in s
    facts: Mapping[str, Any] = field(default_factory=dict)  # a video's duration, codec...: its place's extra


@dataclass(frozen=True)
class ImageInfo:
    """One distinct content in the catalog."""

    id: int
    sha256: str
    bytes: int
    width: int | None
    height: int | None
    format: str | None
    mode: str | None
    status: str
    reason: str | None
    detail: str | None


@dataclass(frozen=True)
class Occurrence:
    """One place an image was seen, as the catalog holds it."""

    id: int
    uri: str
    image_id: int | None
    status: str
    reason: str | None
    detail: str | None
    file: str | None
    member: str | None
    url: str | None
    page_url: str | None
    title: str | None
    text: str | None
    tags: tuple[str, ...]
    extra: Mapping[str, Any]
    parent_id: int | None = None  # a tile: the image id of its sheet
    box: Box | None = None  # a tile: where in the sheet

    @property
    def sheet_uri(self) -> str | None:
        """A tile's sheet, as the place it was seen (the uri before '#tile=')."""
        return self.uri.split("#tile=", 1)[0] if self.box is not None else None

    @property
    def at(self) -> float | None:
        """A video or animation frame: its time in seconds (the uri's '#t=')."""
        return frame_time(self.uri, self.parent_id, self.box)

    @property
    def video_uri(self) -> str | None:
        """A frame's video (or animation), as the place it was seen (the uri before '#t=')."""
        return self.uri.rsplit(FRAME_MARK, 1)[0] if self.at is not None else None

    def describe_frame(self) -> str | None:
        """'video.mp4 at 00:01:23', for a frame."""
        at = self.at
        return None if at is None else f"{self.video_uri} at {clock(at)}"

    def describe_part(self) -> str | None:
        """A tile's or a frame's description; None for a whole file."""
        return self.describe_tile() or self.describe_frame()

    def describe_tile(self) -> str | None:
        """'tile (x, y, w, h) of sheet S', for a tile."""
        if self.box is None:
            return None
        x, y, w, h = self.box
        return f"tile ({x}, {y}, {w}, {h}) of sheet {self.sheet_uri}"


@dataclass(frozen=True)
class CrawlUrl:
    """One URL of the crawl frontier: a page to walk or a file to fetch, and how far it got."""

    url: str
    kind: str  # "page", "file" or "listing" (an API page a crawl recipe reads)
    depth: int = 0
    state: str = "pending"  # "pending", "done", "failed" or "refused" (found, never fetched)
    attempts: int = 0
    last_error: str | None = None  # why failed or refused, in words
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None
    reason: str | None = None  # why failed or refused, a short code ("out_of_scope", "robots", "http_404")
    fresh_until: float | None = None  # not asked again before (max-age); None: while its page is unchanged
    page_url: str | None = None  # a file's page, whose metadata travels with its images
    title: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)  # text, tags, extra of that page


@dataclass(frozen=True)
class Job:
    """A unit of work that ``lookalike worker`` processes claim: a file to index or a crawl to run."""

    id: int
    kind: str  # "file" or "crawl"
    key: str  # the file's path, or the crawl's start URLs
    payload: Mapping[str, Any] = field(default_factory=dict)
    attempts: int = 0
