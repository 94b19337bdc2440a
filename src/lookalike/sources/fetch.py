"""Fetch URLs safely: http(s) only, size-capped, redirect-limited, SSRF-guarded.

The SSRF guard works at connect time: every TCP connection the default transport
opens goes through :class:`_GuardedBackend`, which resolves the host itself, refuses
non-public addresses (unless ``fetch.allow_networks`` or ``fetch.allow_hosts`` lists them,
see :class:`Allowed`) and connects to the very address
it checked, so neither a DNS answer nor a redirect nor a DNS rebinding between check
and connect can reach a loopback, private or link-local service.  A cheap pre-check of
every hop (literal IP hosts; with an injected transport also resolved host names) gives
an early error before any request is made.
"""

from __future__ import annotations

import datetime
import email.utils
import ipaddress
import socket
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpcore
import httpx

from lookalike.errors import BlockedAddressError, FetchError, HTTPStatusError, Reason
from lookalike.settings import FetchSettings

__all__ = ["Allowed", "Fetched", "Fetcher", "is_public_address"]

_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_ALLOW_HINT = (
    "list the address in fetch.allow_networks (e.g. LOOKALIKE_FETCH__ALLOW_NETWORKS='[\"127.0.0.0/8\"]')"
    " or the host in fetch.allow_hosts to allow it"
)
#: Cloud metadata services outside link-local space; like link-local ones, allowed by address only.
_METADATA = frozenset(ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254"))


@dataclass(frozen=True)
class Fetched:
    """A fetched response: final URL, body and the headers callers need."""

    url: str
    data: bytes
    content_type: str | None
    status: int
    headers: dict[str, str]


# --------------------------------------------------------------------------- addresses


def is_public_address(ip: str) -> bool:
    """True if ``ip`` is a globally routable unicast address that may be contacted."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    embedded = _embedded_ipv4(addr)
    if embedded is not None:
        return _is_public(embedded)
    return _is_public(addr)


_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(addr: _IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return None
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def _is_public(addr: _IPAddress) -> bool:
    # is_global alone lets multicast through (224/4, ff0e::/16), so check explicitly.
    special = (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or (isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT)
        or (isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local)
    )
    return addr.is_global and not special


@dataclass(frozen=True)
class Allowed:
    """The non-public places a user allowed (``fetch.allow_hosts``, ``fetch.allow_networks``).

    A listed host may resolve to any address but a metadata one; an address may be in a
    listed network.  Link-local and cloud metadata addresses pass only when a network
    entry is that one address, so ``0.0.0.0/0`` never opens 169.254.169.254.
    """

    hosts: tuple[str, ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def of(cls, settings: FetchSettings) -> Allowed:
        hosts = tuple(h.lower().rstrip(".") for h in settings.allow_hosts)
        return cls(hosts, tuple(ipaddress.ip_network(n, strict=False) for n in settings.allow_networks))

    def permits(self, host: str, ip: str) -> bool:
        if is_public_address(ip):
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        plain = _embedded_ipv4(addr) or addr
        if plain.is_link_local or plain in _METADATA or addr in _METADATA:
            return any(n.num_addresses == 1 and (addr in n or plain in n) for n in self.networks)
        return self._listed(host) or any(addr in n or plain in n for n in self.networks)

    def _listed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return any(
            name == h or (h.startswith(".") and (name.endswith(h) or name == h[1:])) for h in self.hosts
        )


def _resolve(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to, in getaddrinfo order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _check_address(host: str, ip: str, allowed: Allowed) -> None:
    """Raise BlockedAddressError unless ``ip`` (an address of ``host``) may be contacted."""
    if allowed.permits(host, ip):
        return
    where = host if host == ip else f"{host} ({ip})"
    raise BlockedAddressError(
        Reason.BLOCKED_ADDRESS,
        f"refusing to contact {where}: not a public address "
        f"(loopback/private/link-local/reserved); {_ALLOW_HINT}",
    )


# --------------------------------------------------------------------------- transport


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore network backend that resolves, checks and connects to checked IPs only."""

    def __init__(self, allowed: Allowed) -> None:
        self._allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._checked_addresses(host, port)
        options = list(socket_options or [])
        error: httpcore.ConnectError | None = None
        for ip in addresses:
            try:
                return super().connect_tcp(ip, port, timeout, local_address, options)
            except httpcore.ConnectError as exc:  # try the next address
                error = exc
        assert error is not None  # _checked_addresses never returns an empty list
        raise error

    def _checked_addresses(self, host: str, port: int) -> list[str]:
        try:
            addresses = _resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"host {host!r} resolves to no address")
        for ip in addresses:  # any blocked answer refuses the host
            _check_address(host, ip, self._allowed)
        return addresses


def _guarded_transport(allowed: Allowed) -> httpx.HTTPTransport:
    """An httpx transport whose every TCP connection goes through _GuardedBackend.

    httpx.HTTPTransport takes no network backend; it builds an httpcore.ConnectionPool
    and keeps it in ``_pool``.  We replace that pool with one built like httpx builds it
    (no proxy, default limits, same SSL context) plus ``network_backend=``.  Check this
    still matches ``httpx/_transports/default.py`` when upgrading httpx.
    """
    ssl_context = httpx.create_ssl_context()
    limits = httpx.Limits()
    transport = httpx.HTTPTransport(verify=ssl_context)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(allowed),
    )
    return transport


# --------------------------------------------------------------------------- fetcher


class Fetcher:
    """Fetches http(s) URLs under the limits of :class:`FetchSettings`."""

    def __init__(self, settings: FetchSettings, transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings
        self._allowed = Allowed.of(settings)
        self._injected = transport is not None
        self._client = httpx.Client(
            transport=transport or _guarded_transport(self._allowed),
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
            trust_env=False,  # an environment proxy would bypass the connect-time guard
            headers={"User-Agent": settings.user_agent},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def get(
        self, url: str, headers: Mapping[str, str] | None = None, secret: Collection[str] = ()
    ) -> Fetched:
        """GET ``url`` following at most ``max_redirects`` redirects; raise FetchError.

        ``headers`` named in ``secret`` (an API key), like ``Authorization`` and ``Cookie``, are
        not sent on once a redirect leaves the URL's origin."""
        try:
            return self._follow(url, dict(headers or {}), {n.lower() for n in secret} | _SECRET_HEADERS)
        except FetchError as exc:
            if exc.uri is None:
                raise type(exc)(exc.reason, exc.detail, url) from exc
            raise

    def _follow(self, url: str, headers: dict[str, str], secret: Collection[str]) -> Fetched:
        current = _parse_url(url)
        for _ in range(self._settings.max_redirects + 1):
            self._precheck(current, url)
            fetched, location = self._fetch_once(current, headers, url)
            if location is None:
                return fetched
            target = _join(current, location, url)
            if target.netloc != current.netloc or target.scheme != current.scheme:
                headers = {k: v for k, v in headers.items() if k.lower() not in secret}
            current = target
        raise FetchError(
            Reason.FETCH_FAILED,
            f"too many redirects (more than {self._settings.max_redirects}), last to {current}",
            url,
        )

    def _precheck(self, hop: httpx.URL, url: str) -> None:
        """Cheap guard run before every hop: scheme, literal IPs, resolved names."""
        if hop.scheme not in ("http", "https"):
            detail = f"only http(s) URLs can be fetched, not {hop.scheme or 'no'} scheme"
            raise FetchError(Reason.FETCH_FAILED, _via(detail, hop, url), url)
        if not hop.host:
            raise FetchError(Reason.FETCH_FAILED, _via("URL has no host", hop, url), url)
        try:
            for ip in self._precheck_addresses(hop):
                _check_address(hop.host, ip, self._allowed)
        except BlockedAddressError as exc:
            raise BlockedAddressError(exc.reason, _via(exc.detail, hop, url), url) from None

    def _precheck_addresses(self, hop: httpx.URL) -> list[str]:
        try:
            return [str(ipaddress.ip_address(hop.host))]
        except ValueError:
            pass
        if not self._injected:
            return []  # the guarded backend resolves and checks at connect time
        try:
            return _resolve(hop.host, hop.port or 0)
        except (OSError, UnicodeError):
            return []  # unknown to DNS: the injected transport decides

    def _fetch_once(self, hop: httpx.URL, headers: dict[str, str], url: str) -> tuple[Fetched, str | None]:
        """One request; returns the response and its redirect location, if any."""
        try:
            with self._client.stream("GET", hop, headers=headers) as response:
                return self._read(response, url)
        except FetchError as exc:  # also a BlockedAddressError from the guarded backend
            if exc.uri is None:
                raise type(exc)(exc.reason, _via(exc.detail, hop, url), url) from exc
            raise
        except httpx.TimeoutException as exc:
            detail = f"timed out after {self._settings.timeout:g}s ({_describe(exc)})"
            raise FetchError(Reason.FETCH_FAILED, _via(detail, hop, url), url) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            blocked = _blocked_cause(exc)
            if blocked is not None:
                detail = _via(blocked.detail, hop, url)
                raise BlockedAddressError(blocked.reason, detail, url) from exc
            detail = f"request failed: {_describe(exc)}"
            raise FetchError(Reason.FETCH_FAILED, _via(detail, hop, url), url) from exc

    def _read(self, response: httpx.Response, url: str) -> tuple[Fetched, str | None]:
        status = response.status_code
        if status >= 400:
            retry_after = _retry_after(response.headers.get("retry-after"))
            detail = f"HTTP {status} from {response.url}"
            raise HTTPStatusError(Reason.FETCH_FAILED, detail, url, status, retry_after)
        if status in _REDIRECT_CODES:
            location = response.headers.get("location")
            if not location:
                detail = f"HTTP {status} redirect without Location from {response.url}"
                raise FetchError(Reason.FETCH_FAILED, detail, url)
            return self._fetched(response, b""), location
        return self._fetched(response, self._read_body(response, url)), None

    def _read_body(self, response: httpx.Response, url: str) -> bytes:
        cap = self._settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > cap:
            detail = f"response of {int(declared)} bytes is larger than fetch.max_bytes={cap}"
            raise FetchError(Reason.TOO_LARGE, detail, url)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                detail = f"response is larger than fetch.max_bytes={cap} bytes"
                raise FetchError(Reason.TOO_LARGE, detail, url)
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _fetched(response: httpx.Response, data: bytes) -> Fetched:
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Fetched(
            url=str(response.url),
            data=data,
            content_type=headers.get("content-type"),
            status=response.status_code,
            headers=headers,
        )


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number, or an HTTP date), if any."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def _parse_url(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(Reason.FETCH_FAILED, f"invalid URL: {exc}", url) from exc


def _join(base: httpx.URL, location: str, url: str) -> httpx.URL:
    try:
        return base.join(location)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        detail = f"bad redirect Location {location!r} from {base}: {exc}"
        raise FetchError(Reason.FETCH_FAILED, detail, url) from exc


def _via(detail: str, hop: httpx.URL, url: str) -> str:
    """``detail``, naming the redirect target when it is not the requested URL."""
    return detail if str(hop) == url else f"{detail} (redirected to {hop})"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _blocked_cause(exc: BaseException) -> BlockedAddressError | None:
    """The BlockedAddressError an httpx/httpcore exception wraps, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BlockedAddressError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
