"""Where the vector indexes live: the ``vectors`` setting read as a Milvus address.

Kept apart from :mod:`.milvus_backend` so the collection can check the setting
without importing pymilvus.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from lookalike.errors import ConfigError

__all__ = ["DEFAULT_PORT", "is_lite", "milvus_uri"]

DEFAULT_PORT = 19530
_TRANSPORTS = {"milvus": "http", "milvus+http": "http", "milvus+https": "https"}
# milvus-lite refuses other file names (milvus_lite.server.Server)
_LITE_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,36}$")
_EXPECTED = (
    "expected '' (index files in the home folder), 'milvus://host:port', 'milvus+https://host:port' "
    "or a milvus-lite file ending in '.db'"
)


def milvus_uri(vectors: str, home: Path) -> str | None:
    """The pymilvus uri that ``vectors`` names, or None for local index files.

    ``milvus://host:port`` becomes ``http://host:port`` (``milvus+https://`` becomes
    ``https://``; the port defaults to 19530); a path ending in ``.db`` is a milvus-lite
    file, relative to ``home`` unless absolute.  Anything else raises :class:`ConfigError`.
    """
    value = vectors.strip()
    if not value:
        return None
    if "://" in value:
        return _server(value)
    if value.endswith(".db"):
        return _lite(value, home)
    raise _bad(value, _EXPECTED)


def is_lite(uri: str) -> bool:
    """Whether a pymilvus uri is a milvus-lite file rather than a server."""
    return "://" not in uri and uri.endswith(".db")


def _server(value: str) -> str:
    parts = urlsplit(value)
    transport = _TRANSPORTS.get(parts.scheme.lower())
    if transport is None:
        raise _bad(value, _EXPECTED)
    if parts.username or parts.password:
        raise ConfigError(
            "setting 'vectors' (LOOKALIKE_VECTORS) holds credentials: give the address alone and put them "
            "in index.milvus_token (LOOKALIKE_INDEX__MILVUS_TOKEN)"
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise _bad(value, "the port is not a number from 1 to 65535") from None
    if not parts.hostname or parts.query or parts.fragment:
        raise _bad(value, "expected scheme://host:port, with at most a database name as the path")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{transport}://{host}:{port}{parts.path.rstrip('/')}"


def _lite(value: str, home: Path) -> str:
    path = Path(value).expanduser()
    if not _LITE_NAME.match(path.name):
        raise _bad(value, "a milvus-lite file name has at most 36 letters, digits, '.', '-' or '_'")
    return str(path if path.is_absolute() else home / path)


def _bad(value: str, why: str) -> ConfigError:
    return ConfigError(f"setting 'vectors' (LOOKALIKE_VECTORS) has value {value!r}: {why}")
