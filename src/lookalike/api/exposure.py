"""Who may reach the service: loopback names, and the check ``lookalike serve`` runs before it listens.

Without ``serve.api_key``, writes are meant for this machine only.  Listening on any
other address without a key is refused at start-up unless ``serve.no_auth`` (``--no-auth``)
says it is meant, so a ``--host 0.0.0.0`` typed in a hurry never opens the collection to a network.
"""

from __future__ import annotations

import ipaddress

from lookalike.errors import ConfigError
from lookalike.settings import ServeSettings

__all__ = ["check_exposure", "is_loopback"]


def is_loopback(name: str) -> bool:
    """``localhost``, a ``*.localhost`` name, or a loopback address (127.0.0.0/8, ::1)."""
    name = name.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(serve: ServeSettings) -> None:
    """Refuse to serve on a non-loopback ``serve.host`` without ``serve.api_key``, unless
    ``serve.no_auth`` is set; the error says what to do."""
    if serve.api_key is not None or serve.no_auth or is_loopback(serve.host):
        return
    raise ConfigError(
        f"refusing to serve on {serve.host!r} without an API key: anyone who can reach that address "
        "could add and delete images. Set one (LOOKALIKE_SERVE__API_KEY=... or serve.api_key) so "
        "that writes need it, pass --no-auth (serve.no_auth=true) to serve without one anyway, or "
        "listen on 127.0.0.1 (the default)"
    )
