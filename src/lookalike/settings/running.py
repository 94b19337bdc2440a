"""Settings of the long-running work: indexing, workers and the web service."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from lookalike.settings.sources import MB

__all__ = ["IngestSettings", "ServeSettings", "WorkerSettings"]


class IngestSettings(BaseModel):
    """How indexing runs."""

    signals: list[str] = Field(
        default_factory=list,
        description="Signals computed for every image; empty: the default ones (phash, colour, junk, and "
        "keypoints where OpenCV is installed: crop search). phash is always among them; others, such as "
        "'embedding', need their extra installed; `lookalike doctor` lists them.",
    )

    workers: int = Field(
        0, ge=0, description="Processes that decode and compute signals; 0 means one per CPU core."
    )
    batch_size: int = Field(256, ge=1, description="Files committed to the catalog per transaction.")
    follow_symlinks: Literal["inside", "all", "none"] = Field(
        "inside",
        description="Symbolic links to files found in indexed folders: 'inside' follows those whose "
        "target is under a folder being indexed, 'all' follows every one (the API then serves files "
        "from wherever the links point), 'none' follows none; links not followed are recorded as skipped.",
    )
    originals: Literal["fetched", "all", "none"] = Field(
        "fetched",
        description="Keep a content-addressed copy of image bytes in the data folder: 'fetched' (images from "
        "URLs and crawls), 'all', or 'none' (thumbnails and features only).",
    )
    tiles: str = Field(
        "auto",
        pattern=r"^(off|auto|\d+x\d+(\+\d+)?)$",
        description="Cut sprite and tile sheets into tiles, each indexed as an image that points at its "
        "sheet, so a search for one sprite finds its sheet: 'auto' (sheets whose 8-64 pixel cells are 1-2 "
        "pixels apart with transparent or one-colour separators, and lossless pixel art of at most 256 "
        "colours whose sides are multiples of a sprite size, 8-128 pixels, when a grid's cell edges stand "
        "out: its likeliest grids, within `tile_budget`), 'off', or a grid for every image it fits, '16x16' or '16x16+1' (1 pixel apart).",
    )
    tile_budget: int = Field(
        2048,
        ge=0,
        description="The most tiles one sheet packed without gaps gives with `tiles = 'auto'`, over the "
        "grids it is cut by (up to 3, likeliest first; a grid whose tiles would pass it is skipped).",
    )

    @field_validator("signals")
    @classmethod
    def _once_each(cls, names: list[str]) -> list[str]:
        # the required signals (phash) are added by the composition root, lookalike.app
        return list(dict.fromkeys(names))

    thumbnail_size: int = Field(
        240,
        ge=0,
        description="Long side of the thumbnails (JPEG; PNG for pixel art) made at ingest; 0 makes none.",
    )


class WorkerSettings(BaseModel):
    """``lookalike worker``: processes that share the catalog's job queue."""

    lease: float = Field(
        120.0,
        gt=0,
        description="Seconds a claimed job or crawl URL stays a worker's; a worker that stops (killed, "
        "its machine lost) has its work taken again once the lease expires. Renewed while it works.",
    )
    batch: int = Field(
        16, ge=1, description="Files a worker claims at once; images in each job of a queued backfill."
    )
    poll: float = Field(2.0, gt=0, description="Seconds an idle worker waits before looking for jobs again.")
    max_attempts: int = Field(
        5, ge=1, description="Claims of one job before it counts as failed (a file that kills its worker)."
    )


class ServeSettings(BaseModel):
    """The web service (``lookalike serve``)."""

    host: str = Field("127.0.0.1", description="Address the web service listens on.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port the web service listens on.")
    max_upload_bytes: int = Field(
        20 * MB, gt=0, description="Largest image upload accepted, in bytes (larger ones get HTTP 413)."
    )
    api_key: SecretStr | None = Field(
        None,
        description="Key that write endpoints (add, delete) require as 'Authorization: Bearer KEY' "
        "or 'X-API-Key: KEY'; unset: writes are open to this machine, and `lookalike serve` refuses a "
        "non-loopback serve.host unless serve.no_auth is set.",
    )
    no_auth: bool = Field(
        False,
        description="Let `lookalike serve` listen on a non-loopback serve.host without serve.api_key "
        "(--no-auth): anyone who reaches it can search and, with a forged Host header, write.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names or addresses, besides loopback ones, that writes without serve.api_key "
        "accept in the request's Host header (e.g. a LAN name); others get HTTP 403 (DNS rebinding).",
    )
    workers: int = Field(
        1, ge=1, description="Server processes; each opens the collection and follows the others' writes."
    )
    threads: int = Field(
        4, ge=1, description="Searches one process runs at the same time (the rest wait their turn)."
    )
    facet_pool: int = Field(
        200,
        ge=1,
        le=1000,
        description="Best results of a query that filters and facets are computed over.",
    )
    keep_queries: int = Field(
        200,
        ge=0,
        description="Uploaded query images kept in the data folder (queries/, by SHA-256, at most 512 MB) so that /?img=SHA256 works after a restart, the least recently searched removed first; 0: kept in memory only, lost on restart.",
    )
