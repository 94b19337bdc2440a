"""Errors as HTTP: lookalike's exception tree turned into status codes and one JSON shape.

Every error answer of ``/api`` is ``{"error": {"reason": ..., "message": ...}}``
(validation errors add ``"detail"``); pages show the same message in HTML.

==================================  ======  ======================================
exception                           status  reason
==================================  ======  ======================================
InputError: not an image, format    415     ``not_an_image``, ``unsupported_format``
InputError: too large, too many px  413     ``too_large``, ``too_many_pixels``
other InputError (corrupt, URL...)  400     its :class:`~lookalike.Reason`
ApiError                            its     its own (``bad_request``, ``unauthorized``...)
NotFoundError                       404     ``not_found``
ConfigError (e.g. unknown signal)   400     ``bad_setting``
BackendError                       503     ``backend_unavailable``
anything else                       500     ``internal``
==================================  ======  ======================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lookalike.errors import BackendError, ConfigError, InputError, LookalikeError, NotFoundError, Reason

__all__ = ["ApiError", "body", "describe"]

log = logging.getLogger("lookalike.api")

_STATUS = {
    Reason.NOT_AN_IMAGE: 415,
    Reason.UNSUPPORTED_FORMAT: 415,
    Reason.TOO_LARGE: 413,
    Reason.TOO_MANY_PIXELS: 413,
}


class ApiError(LookalikeError):
    """A request the service refuses before it reaches the collection (bad request, key, size)."""

    def __init__(
        self, status: int, reason: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.headers = dict(headers or {})


def describe(exc: BaseException) -> tuple[int, str, str]:
    """(status, reason, message) of an exception."""
    if isinstance(exc, ApiError):
        return exc.status, exc.reason, exc.message
    if isinstance(exc, InputError):
        where = f"{exc.uri}: " if exc.uri else ""
        return _STATUS.get(exc.reason, 400), exc.reason.value, f"{where}{exc.detail}"
    if isinstance(exc, NotFoundError):
        return 404, "not_found", str(exc)
    if isinstance(exc, ConfigError):
        return 400, "bad_setting", str(exc)
    if isinstance(exc, BackendError):
        return 503, "backend_unavailable", str(exc)
    log.error("unexpected error", exc_info=exc)
    return 500, "internal", "internal error (the server log has the details)"


def body(status_reason_message: tuple[int, str, str]) -> dict[str, dict[str, str]]:
    """The JSON body of an error answer."""
    _, reason, message = status_reason_message
    return {"error": {"reason": reason, "message": message}}
