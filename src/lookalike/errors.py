"""The one exception tree of lookalike.

::

    LookalikeError                 base of everything the package raises on purpose
    ├── ConfigError                a setting has a bad value (names the key and the value)
    ├── InputError                 a file, archive, URL or query cannot be used
    │   ├── DecodeError            bytes that are not a usable image (reason says why)
    │   ├── ArchiveError           an archive that is corrupt or breaks a limit
    │   └── FetchError             a URL that could not or must not be fetched
    │       ├── BlockedAddressError   the URL points at a loopback/private/link-local address
    │       └── HTTPStatusError       the server answered 4xx/5xx (status, Retry-After)
    ├── NotFoundError              an image id or path that the collection does not hold
    ├── BackendError               a storage or index backend failed or is missing
    └── ModelError                 a model is missing, malformed, or could not be pulled

Every input failure carries a machine-readable :class:`Reason` (shown in ``stats``
and ``--json``) plus a human-readable detail and, where known, the uri.  Only the CLI
and the API turn these into exit codes and status codes.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ArchiveError",
    "BackendError",
    "BlockedAddressError",
    "ConfigError",
    "DecodeError",
    "FetchError",
    "HTTPStatusError",
    "InputError",
    "LookalikeError",
    "ModelError",
    "NotFoundError",
    "Reason",
    "SignalError",
]


class Reason(StrEnum):
    """Why an input was rejected; stable strings that stats group by."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    CORRUPT = "corrupt"
    UNREADABLE = "unreadable"
    ARCHIVE_CORRUPT = "archive_corrupt"
    ARCHIVE_BOMB = "archive_bomb"
    ARCHIVE_LIMIT = "archive_limit"
    ARCHIVE_TOO_DEEP = "archive_too_deep"
    NOT_A_FILE = "not_a_file"
    BROKEN_LINK = "broken_link"
    LINK_NOT_FOLLOWED = "link_not_followed"
    UNSAFE_PATH = "unsafe_path"
    EXTRACTOR_MISSING = "extractor_missing"
    FETCH_FAILED = "fetch_failed"
    BLOCKED_ADDRESS = "blocked_address"
    SIGNAL_FAILED = "signal_failed"
    INVALID = "invalid"  # a request that names no valid thing (a choice, a group)
    DECODER_MISSING = "decoder_missing"  # a video, and PyAV is not installed
    NO_VIDEO = "no_video"  # a video container with no video stream (an audio file)
    TRUNCATED = "truncated"  # a video whose data ends before its header says (frames before are kept)
    TIME_LIMIT = "time_limit"  # decoding ran past video.time_limit (frames before are kept)


class LookalikeError(Exception):
    """Base class of every error lookalike raises on purpose."""


class ConfigError(LookalikeError):
    """A setting has an invalid value."""


class InputError(LookalikeError):
    """An input (file, archive member, URL, query) cannot be used."""

    def __init__(self, reason: Reason, detail: str, uri: str | None = None) -> None:
        self.reason = Reason(reason)
        self.detail = detail
        self.uri = uri
        where = f"{uri}: " if uri else ""
        super().__init__(f"{where}{detail} [{self.reason.value}]")


class DecodeError(InputError):
    """Bytes that cannot be decoded into a usable image."""


class SignalError(InputError):
    """One signal could not read one image (the image is kept, without that signal's feature)."""

    def __init__(self, detail: str, uri: str | None = None) -> None:
        super().__init__(Reason.SIGNAL_FAILED, detail, uri)


class ArchiveError(InputError):
    """An archive that is corrupt, hostile or breaks a configured limit."""


class FetchError(InputError):
    """A URL that could not be fetched (network, status, size, timeout)."""


class BlockedAddressError(FetchError):
    """A URL that resolves to an address lookalike must not contact."""


class HTTPStatusError(FetchError):
    """A server that answered with an error status; ``retry_after`` in seconds when it said."""

    def __init__(
        self,
        reason: Reason,
        detail: str,
        uri: str | None = None,
        status: int = 0,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, detail, uri)
        self.status, self.retry_after = status, retry_after

    @property
    def transient(self) -> bool:
        """Worth asking again later: too many requests, or a server error."""
        return self.status == 429 or self.status >= 500


class NotFoundError(LookalikeError):
    """An image id or location that the collection does not hold."""


class BackendError(LookalikeError):
    """A catalog or index backend failed, or its package is not installed."""


class ModelError(LookalikeError):
    """A model that is not installed, whose files or config are wrong, or that could not be pulled."""
