"""Typed settings: one tree, read once, passed down.

Every field can be set from the environment with the ``LOOKALIKE_`` prefix and
``__`` between levels, for example ``LOOKALIKE_DECODE__MAX_PIXELS=50000000`` or
``LOOKALIKE_HOME=/srv/images``.  Every setting is documented in ``docs/settings.md``
(a test checks this).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lookalike.errors import ConfigError
from lookalike.settings.mapping import MapSettings
from lookalike.settings.models import JunkSettings, ModelSettings, OcrSettings, SafetySettings
from lookalike.settings.running import IngestSettings, ServeSettings, WorkerSettings
from lookalike.settings.searching import IndexSettings, SearchSettings
from lookalike.settings.sources import ArchiveSettings, CrawlSettings, DecodeSettings, FetchSettings
from lookalike.settings.storage import StorageSettings
from lookalike.settings.video import VideoSettings
from lookalike.settings.watching import WatchSettings

__all__ = [
    "ArchiveSettings",
    "CrawlSettings",
    "DecodeSettings",
    "FetchSettings",
    "IndexSettings",
    "IngestSettings",
    "JunkSettings",
    "MapSettings",
    "ModelSettings",
    "OcrSettings",
    "SafetySettings",
    "SearchSettings",
    "ServeSettings",
    "Settings",
    "StorageSettings",
    "VideoSettings",
    "WatchSettings",
    "WorkerSettings",
    "load_settings",
]


class Settings(BaseSettings):
    """All settings of lookalike."""

    model_config = SettingsConfigDict(env_prefix="LOOKALIKE_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(
        Path("lookalike-data"),
        description="Data directory of the collection: catalog, indexes (env LOOKALIKE_HOME; set but "
        "empty: the default).",
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
    video: VideoSettings = Field(
        default_factory=lambda: VideoSettings(), description="Video and animation frames."
    )
    fetch: FetchSettings = Field(default_factory=lambda: FetchSettings(), description="URL fetching.")
    crawl: CrawlSettings = Field(default_factory=lambda: CrawlSettings(), description="Website crawling.")
    storage: StorageSettings = Field(
        default_factory=lambda: StorageSettings(), description="Object storage (s3://, gs://, az://)."
    )
    index: IndexSettings = Field(default_factory=lambda: IndexSettings(), description="Vector indexes.")
    search: SearchSettings = Field(default_factory=lambda: SearchSettings(), description="Query defaults.")
    ingest: IngestSettings = Field(default_factory=lambda: IngestSettings(), description="Indexing.")
    serve: ServeSettings = Field(default_factory=lambda: ServeSettings(), description="Web service.")
    worker: WorkerSettings = Field(default_factory=lambda: WorkerSettings(), description="Workers.")
    watch: WatchSettings = Field(default_factory=lambda: WatchSettings(), description="Watched folders.")
    models: ModelSettings = Field(default_factory=lambda: ModelSettings(), description="Neural models.")
    ocr: OcrSettings = Field(default_factory=lambda: OcrSettings(), description="Text inside images.")
    junk: JunkSettings = Field(default_factory=lambda: JunkSettings(), description="Junk images.")
    safety: SafetySettings = Field(default_factory=lambda: SafetySettings(), description="Exposure filter.")
    map: MapSettings = Field(default_factory=lambda: MapSettings(), description="The explore map.")

    @field_validator("home", mode="before")
    @classmethod
    def _empty_is_the_default(cls, value: Any) -> Any:
        return Path("lookalike-data") if isinstance(value, str) and not value.strip() else value


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
