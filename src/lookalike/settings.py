"""Typed settings: one tree, read once, passed down.

Every field can be set from the environment with the ``LOOKALIKE_`` prefix and
``__`` between levels, for example ``LOOKALIKE_DECODE__MAX_PIXELS=50000000`` or
``LOOKALIKE_HOME=/srv/images``.  Every setting is documented in ``docs/settings.md``
(a test checks this).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lookalike.errors import ConfigError

__all__ = [
    "ArchiveSettings",
    "CrawlSettings",
    "DecodeSettings",
    "FetchSettings",
    "IndexSettings",
    "IngestSettings",
    "JunkSettings",
    "ModelSettings",
    "SearchSettings",
    "ServeSettings",
    "Settings",
    "WorkerSettings",
    "load_settings",
]

MB = 1024 * 1024


class DecodeSettings(BaseModel):
    """Limits and sizes for turning bytes into pixels."""

    max_bytes: int = Field(200 * MB, gt=0, description="Largest image file accepted, in bytes.")
    max_pixels: int = Field(
        90_000_000, gt=0, description="Largest width*height accepted (decompression-bomb guard)."
    )
    work_size: int = Field(
        512,
        ge=96,
        description="Long side the decoder reduces large images to before signals run.",
    )


class ArchiveSettings(BaseModel):
    """Limits for unpacking zip, tar, 7z and rar archives."""

    max_members: int = Field(20_000, gt=0, description="Most members read from one archive.")
    max_member_bytes: int = Field(200 * MB, gt=0, description="Largest unpacked member, in bytes.")
    max_total_bytes: int = Field(4096 * MB, gt=0, description="Most unpacked bytes taken from one archive.")
    max_ratio: float = Field(
        200.0, gt=1, description="Largest unpacked/packed size ratio of a member (zip-bomb guard)."
    )
    max_depth: int = Field(2, ge=0, description="How deep archives inside archives are opened.")


class FetchSettings(BaseModel):
    """How lookalike fetches URLs (query images, URL lists)."""

    timeout: float = Field(20.0, gt=0, description="Seconds to wait for a server, per request.")
    max_bytes: int = Field(50 * MB, gt=0, description="Largest response body accepted, in bytes.")
    max_redirects: int = Field(5, ge=0, description="Most redirects followed.")
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names that may be fetched although they resolve to loopback or private "
        "addresses (a NAS on the LAN): exact names, or '.example.lan' for a domain and its subdomains.",
    )
    allow_networks: list[str] = Field(
        default_factory=list,
        description="Loopback or private networks that may be fetched, as CIDRs or addresses, e.g. "
        "'127.0.0.0/8' for a local test site; a link-local address (such as the cloud metadata "
        "service 169.254.169.254) only when listed by itself, never through a wider network.",
    )
    user_agent: str = Field(
        "lookalike/0.1 (+self-hosted reverse image search)",
        description="User-Agent header sent with every request.",
    )


    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not a network (CIDR such as 10.0.0.0/8) or an address") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _replaced(cls, data: Any) -> Any:
        if isinstance(data, dict) and "allow_private" in data:
            raise ValueError(
                "fetch.allow_private was replaced by allow-lists: name what may be fetched in "
                'fetch.allow_networks (e.g. ["127.0.0.0/8"]) or fetch.allow_hosts'
            )
        return data


class CrawlSettings(BaseModel):
    """How ``lookalike crawl`` walks a website (the fetch settings apply to every request)."""

    delay: float = Field(1.0, ge=0, description="Seconds between two requests to the same host.")
    concurrency: int = Field(4, ge=1, description="Requests in flight at once, over all hosts.")
    per_host: int = Field(
        2,
        ge=1,
        description="Requests in flight at once to one host (each still waits crawl.delay after the last).",
    )
    max_depth: int = Field(
        5, ge=0, description="Most links followed from a start URL to reach a page (0: the start pages only)."
    )
    max_pages: int = Field(0, ge=0, description="Most pages fetched in one run; 0: no limit.")
    max_bytes: int = Field(
        0, ge=0, description="Most bytes downloaded in one run (pages and files); 0: no limit."
    )
    same_site: bool = Field(
        True, description="Walk only pages on the hosts of the start URLs (files may be anywhere)."
    )
    robots: bool = Field(True, description="Obey robots.txt (rules and Crawl-delay for the User-Agent).")
    selectors: dict[str, str] = Field(
        default_factory=dict,
        description="CSS selectors for what a page says of its images, by name: 'title', 'text', 'tags' "
        "replace the defaults (OpenGraph, <title>, rel=tag), other names ('author', 'licence', 'price') "
        "become extra fields.",
    )
    retries: int = Field(
        2, ge=0, description="Times a URL is asked again after HTTP 429 or 5xx before it counts as failed."
    )
    retry_wait: float = Field(
        1.0,
        ge=0,
        description="Seconds before the first retry, doubled for each next (unless Retry-After says).",
    )
    max_retry_wait: float = Field(
        120.0,
        ge=0,
        description="Longest wait before a retry; a server asking for longer makes the URL fail for this run.",
    )


class IndexSettings(BaseModel):
    """Vector index backends."""

    backend: str = Field(
        "auto",
        description="Index backend: 'auto' (milvus when 'vectors' names one, else faiss if installed, else "
        "brute), 'faiss', 'brute', 'milvus' (needs 'vectors').",
    )
    threads: int = Field(1, ge=1, description="Threads an index may use per search.")
    dense: Literal["auto", "flat", "hnsw", "ivfpq"] = Field(
        "auto",
        description="Index for float vectors (embeddings): 'flat' (exact), 'hnsw' (graph, fast, "
        "about 1.1x the memory of flat), 'ivfpq' (compressed, 16x smaller; 4x the candidates are re-scored exactly, so recall stays near exact); 'auto': flat up "
        "to index.flat_max vectors, then hnsw.  Milvus builds FLAT, HNSW or IVF_PQ alike; milvus-lite has only "
        "FLAT and IVF_FLAT, and builds IVF_FLAT for hnsw and ivfpq.",
    )
    flat_max: int = Field(
        100_000, ge=0, description="Largest float index kept exact (flat) by index.dense='auto'."
    )
    hnsw_m: int = Field(32, ge=4, le=128, description="Links per vector in an HNSW index (build time).")
    ef_search: int = Field(
        96, ge=1, description="Candidates an HNSW search keeps (higher: better recall, slower)."
    )
    nprobe: int = Field(
        32, ge=1, description="Lists an IVF search (FAISS IVF-PQ, Milvus IVF_*) visits (higher: better recall, slower)."
    )
    milvus_prefix: str = Field(
        "lookalike",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Start of the Milvus collection names ('PREFIX_SIGNAL_vVERSION'), so several lookalike "
        "collections can share one Milvus.",
    )
    milvus_token: SecretStr | None = Field(
        None, description="Credentials for a Milvus server: 'user:password' or an API token; unset: none."
    )


def _default_folder_cache() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lookalike" / "folders"


class SearchSettings(BaseModel):
    """Defaults for queries."""

    k: int = Field(12, ge=1, le=1000, description="Number of results returned by default.")
    folder_cache: Path = Field(
        default_factory=_default_folder_cache,
        description="Where `lookalike search IMAGE --in DIR` keeps the collection of each folder it "
        "searches, one subfolder per folder (default: ~/.cache/lookalike/folders).",
    )
    signals: list[str] = Field(
        default_factory=list,
        description="Signals searched by default; empty: every signal in ingest.signals.",
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="Weight of a signal in the fused score, where it differs from the signal's own "
        "(phash 1, colour 0.35, others 1; 'text', the keyword match, 1).",
    )
    candidates: int = Field(
        100, ge=1, description="Candidates taken from each index before fusion (at least k)."
    )
    collapse: Literal["copies", "bits"] = Field(
        "copies",
        description="Which results fold into a better one: 'copies', those its phash says are the same "
        "picture (the copy tier, the mirror image too); 'bits', those within collapse_bits.",
    )
    collapse_bits: int = Field(
        48,
        ge=0,
        description="With collapse=bits, results whose phash differs by at most this many of 576 bits are "
        "collapsed into one; 0 collapses nothing. Also `lookalike dupes`' default --max-bits.",
    )
    phash_variants: Literal["mirror", "dihedral"] = Field(
        "mirror",
        description="Query variants for phash: 'mirror' (image and its mirror) or 'dihedral' "
        "(also the 90/180/270 degree rotations; four times the search work).",
    )
    verify: int = Field(
        20,
        ge=1,
        le=1000,
        description="Candidates of a keypoints search (by descriptor votes, and by the other signals' "
        "scores) that are checked geometrically; each check costs about a millisecond.",
    )
    rerank_keypoints: int = Field(
        0,
        ge=0,
        le=1000,
        description="When keypoints are indexed but not among the query's signals, check this many of the "
        "best results geometrically and lift each verified one to its keypoints similarity; 0: off.",
    )
    fuzzy: int = Field(
        2,
        ge=0,
        le=2,
        description="Most edits by which a query word may differ from a word read in images (OCR) and "
        "still find it, ranked below exact matches; words of up to 3 letters are never corrected, up to 6 "
        "by one edit; 0: exact words only.",
    )


class IngestSettings(BaseModel):
    """How indexing runs."""

    signals: list[str] = Field(
        default_factory=list,
        description="Signals computed for every image; empty: the default ones (phash, colour and junk). "
        "phash is always among them; others, such as 'keypoints' or 'embedding', need their extra "
        "installed; `lookalike doctor` lists them.",
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
        "off",
        pattern=r"^(off|auto|\d+x\d+(\+\d+)?)$",
        description="Cut sprite and tile sheets into tiles, each indexed as an image that points at its "
        "sheet: 'off', 'auto' (sheets whose 8-64 pixel cells are 1-2 pixels apart with transparent or "
        "one-colour separators), or a grid for every image it fits, '16x16' or '16x16+1' (1 pixel apart).",
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
    keep_queries: int = Field(200, ge=0, description="Uploaded query images kept in the data folder (queries/, by SHA-256, at most 512 MB) so that /?img=SHA256 works after a restart, the least recently searched removed first; 0: kept in memory only, lost on restart.")


def _default_model_folder() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lookalike" / "models"


class OcrSettings(BaseModel):
    """The ``ocr`` signal: text inside images (``pip install 'lookalike[ocr]'``)."""

    engine: Literal["rapidocr", "tesseract"] = Field(
        "rapidocr",
        description="OCR engine: 'rapidocr' (PP-OCR ONNX models shipped in its wheel, offline) or "
        "'tesseract' (Debian's tesseract-ocr through pytesseract).",
    )
    languages: str = Field("eng", description="Tesseract languages, e.g. 'eng+deu' (rapidocr reads Latin and Chinese).")
    min_size: int = Field(
        64,
        ge=0,
        description="Images whose longer side is shorter, in pixels, are not read (sprites, tiles, icons).",
    )
    min_confidence: float = Field(0.5, ge=0, le=1, description="Lines read with less confidence are dropped.")
    view_size: int = Field(
        960, ge=64, le=4096, description="Long side, in pixels, of the view OCR reads (larger: smaller text, slower)."
    )
    threads: int = Field(1, ge=0, description="Threads one OCR engine uses; 0: the engine's default.")
    int8: bool = Field(
        True,
        description="rapidocr: detect text with an 8-bit copy of the detection model, about 4x faster, made "
        "once per machine into models.folder/rapidocr (needs the onnx package); false: the float model as shipped.",
    )


class JunkSettings(BaseModel):
    """The ``junk`` flag: blank, tiny, spacer and placeholder images, left out of results."""

    min_side: int = Field(
        32, ge=0, description="Images whose long side is shorter, in pixels, are junk ('tiny'), unless pixel art."
    )
    pixel_art: Literal["auto", "yes", "no"] = Field(
        "auto",
        description="Whether the collection is pixel art: 'auto' (a tiny image of at most 32 colours is a "
        "sprite, not junk), 'yes' (no image is junk for its size alone: neither tiny nor a placeholder), 'no'.",
    )


class ModelSettings(BaseModel):
    """Neural models (ONNX Runtime) for the ``embedding`` and ``clip`` signals."""

    folder: Path = Field(
        default_factory=_default_model_folder,
        description="Where installed models live, one folder each (default: ~/.cache/lookalike/models).",
    )
    embedding: str | None = Field(
        None, description="Installed model the 'embedding' signal runs (see `lookalike models list`)."
    )
    clip: str | None = Field(
        None, description="Installed CLIP-style model (image and text) the 'clip' signal runs."
    )
    providers: list[str] = Field(
        default_factory=lambda: ["auto"],
        description="ONNX Runtime execution providers in order of preference; 'auto': CUDA where "
        "present, then CPU.",
    )
    threads: int = Field(0, ge=0, description="Threads ONNX Runtime uses per model; 0: its own default.")
    batch_size: int = Field(16, ge=1, description="Images embedded per model call at ingest.")
    hub_url: str = Field(
        "https://huggingface.co",
        description="Model hub that `lookalike models pull` downloads from.",
    )
    whiten: bool = Field(
        False,
        description="PCA-whiten 'embedding' vectors, fitted on the collection (`lookalike models whiten`).",
    )
    whiten_dim: int = Field(0, ge=0, description="Dimensions kept by the whitening; 0: all of them.")
    expansion: int = Field(
        0,
        ge=0,
        description="Query expansion (alpha-QE) for 'embedding' and 'clip' image queries: neighbours "
        "averaged into the query and searched again; 0: off.",
    )
    expansion_alpha: float = Field(
        3.0, ge=0, description="Weight exponent of alpha-QE: a neighbour counts similarity**alpha."
    )
    tags: int = Field(
        5, ge=0, description="Zero-shot tags per image from the CLIP model and the vocabulary; 0: none."
    )
    tag_vocabulary: list[str] = Field(
        default_factory=list,
        description="Words for zero-shot tags, added to the built-in list (JSON list).",
    )
    tag_vocabulary_only: bool = Field(
        False, description="Use only models.tag_vocabulary, without the built-in words."
    )


class Settings(BaseSettings):
    """All settings of lookalike."""

    model_config = SettingsConfigDict(env_prefix="LOOKALIKE_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(
        Path("lookalike-data"),
        description="Data directory of the collection: catalog, indexes (env LOOKALIKE_HOME).",
    )
    catalog: str = Field(
        "",
        description="Where the catalog lives: empty for catalog.sqlite in the home folder, a SQLite file "
        "path, or a PostgreSQL URL 'postgresql://user:password@host:5432/db' (env LOOKALIKE_CATALOG).",
    )
    vectors: str = Field(
        "",
        description="Where the vector indexes live: empty for index files in the home folder (FAISS), "
        "'milvus://host:19530' for a Milvus server ('milvus+https://host:443' over TLS), or a milvus-lite "
        "file ending in '.db' (a relative path is in the home folder) (env LOOKALIKE_VECTORS).",
    )
    decode: DecodeSettings = Field(default_factory=lambda: DecodeSettings(), description="Decoding limits.")
    archive: ArchiveSettings = Field(default_factory=lambda: ArchiveSettings(), description="Archive limits.")
    fetch: FetchSettings = Field(default_factory=lambda: FetchSettings(), description="URL fetching.")
    crawl: CrawlSettings = Field(default_factory=lambda: CrawlSettings(), description="Website crawling.")
    index: IndexSettings = Field(default_factory=lambda: IndexSettings(), description="Vector indexes.")
    search: SearchSettings = Field(default_factory=lambda: SearchSettings(), description="Query defaults.")
    ingest: IngestSettings = Field(default_factory=lambda: IngestSettings(), description="Indexing.")
    serve: ServeSettings = Field(default_factory=lambda: ServeSettings(), description="Web service.")
    worker: WorkerSettings = Field(default_factory=lambda: WorkerSettings(), description="Workers.")
    models: ModelSettings = Field(default_factory=lambda: ModelSettings(), description="Neural models.")
    ocr: OcrSettings = Field(default_factory=lambda: OcrSettings(), description="Text inside images.")
    junk: JunkSettings = Field(default_factory=lambda: JunkSettings(), description="Junk images.")


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, apply ``overrides``, validate.

    A bad value raises :class:`ConfigError` naming the key and the value.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            env = "LOOKALIKE_" + "__".join(str(p) for p in err["loc"]).upper()
            problems.append(f"setting '{key}' ({env}) has value {err.get('input')!r}: {err['msg']}")
        raise ConfigError("; ".join(problems)) from None
