"""lookalike: self-hosted reverse image search.

>>> import lookalike
>>> with lookalike.open("my-collection") as images:       # doctest: +SKIP
...     images.index(["~/Pictures"])
...     for result in images.search("photo.jpg", k=5):
...         print(result.score, result.location)
"""

from lookalike.collection import Collection, open
from lookalike.errors import (
    ArchiveError,
    BackendError,
    BlockedAddressError,
    ConfigError,
    DecodeError,
    FetchError,
    InputError,
    LookalikeError,
    ModelError,
    NotFoundError,
    Reason,
)
from lookalike.ingest.pipeline import IngestReport
from lookalike.records import ImageInfo, Occurrence, Provenance
from lookalike.search.planner import Evidence, Result
from lookalike.settings import Settings, load_settings

__version__ = "0.1.0"

__all__ = [
    "ArchiveError",
    "BackendError",
    "BlockedAddressError",
    "Collection",
    "ConfigError",
    "DecodeError",
    "Evidence",
    "FetchError",
    "ImageInfo",
    "IngestReport",
    "InputError",
    "LookalikeError",
    "ModelError",
    "NotFoundError",
    "Occurrence",
    "Provenance",
    "Reason",
    "Result",
    "Settings",
    "load_settings",
    "open",
]
