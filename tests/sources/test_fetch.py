"""Tests of lookalike.sources.fetch: redirects, caps, status handling and the SSRF guard.

Mock-transport tests never touch the network (host names go through a fake resolver);
real-socket tests talk only to a throwaway http.server on 127.0.0.1.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from lookalike.errors import BlockedAddressError, ConfigError, FetchError, Reason
from lookalike.settings import FetchSettings, load_settings
from lookalike.sources import fetch
from lookalike.sources.fetch import Allowed, Fetched, Fetcher, is_public_address

Handler = Callable[[httpx.Request], httpx.Response]

FAKE_DNS = {
    "example.com": ["93.184.215.14"],
    "cdn.example.net": ["2606:4700::1"],
    "localhost": ["127.0.0.1", "::1"],
    "intranet.example": ["10.1.2.3"],
    "mixed.example": ["93.184.215.14", "192.168.0.10"],
    "nas.home.lan": ["192.168.1.20"],
    "metadata.home.lan": ["169.254.169.254"],
}


def fake_resolve(host: str, port: int) -> list[str]:
    if host in FAKE_DNS:
        return FAKE_DNS[host]
    # numeric forms only (2130706433, 0x7f000001); never a DNS query
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    return [str(info[4][0]) for info in infos]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "_resolve", fake_resolve)


LOOPBACK = ["127.0.0.0/8", "::1"]  # localhost may resolve to either


def mock_fetcher(handler: Handler, **settings: object) -> Fetcher:
    return Fetcher(FetchSettings(**settings), transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def redirect(to: str, status: int = 302) -> httpx.Response:
    return httpx.Response(status, headers={"Location": to})


def routes(table: dict[str, Callable[[], httpx.Response]]) -> tuple[Handler, list[str]]:
    """A handler serving ``table`` by URL, and the list of URLs it was asked for."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        make = table.get(str(request.url))
        return make() if make else httpx.Response(404)

    return handler, seen


# --------------------------------------------------------------------------- is_public_address


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("224.0.0.1", False),
        ("ff0e::1", False),
        ("fc00::1", False),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 around 10.0.0.1
        ("255.255.255.255", False),
        ("not-an-ip", False),
        ("8.8.8.8", True),
        ("2606:4700::1", True),
        ("::ffff:8.8.8.8", True),
    ],
)
def test_is_public_address(ip: str, public: bool) -> None:
    assert is_public_address(ip) is public


# --------------------------------------------------------------------------- mock transport


@pytest.mark.usefixtures("fake_dns")
def test_redirect_chain_is_followed() -> None:
    handler, seen = routes(
        {
            "http://example.com/a": lambda: redirect("/b", 301),
            "http://example.com/b": lambda: redirect("https://cdn.example.net/c.jpg", 307),
            "https://cdn.example.net/c.jpg": lambda: httpx.Response(
                200, content=b"JPEG", headers={"Content-Type": "image/jpeg", "ETag": '"x1"'}
            ),
        }
    )
    with mock_fetcher(handler) as fetcher:
        got = fetcher.get("http://example.com/a")
    assert got == Fetched(
        url="https://cdn.example.net/c.jpg",
        data=b"JPEG",
        content_type="image/jpeg",
        status=200,
        headers=got.headers,
    )
    assert got.headers["etag"] == '"x1"'
    assert got.headers["content-type"] == "image/jpeg"
    assert seen == [
        "http://example.com/a",
        "http://example.com/b",
        "https://cdn.example.net/c.jpg",
    ]


@pytest.mark.usefixtures("fake_dns")
def test_user_agent_and_headers_sent_secrets_dropped_across_origins() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.host == "example.com":
            return redirect("https://cdn.example.net/x")
        return httpx.Response(200, content=b"ok")

    fetcher = mock_fetcher(handler, user_agent="lookalike-test/1")
    fetcher.get("http://example.com/", headers={"If-None-Match": '"e"', "Authorization": "t"})
    first, second = requests
    assert first.headers["user-agent"] == "lookalike-test/1"
    assert first.headers["authorization"] == "t"
    assert second.headers["if-none-match"] == '"e"'
    assert "authorization" not in second.headers


@pytest.mark.usefixtures("fake_dns")
def test_headers_named_secret_are_dropped_across_origins_too() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.host == "example.com" and request.url.path == "/":
            return redirect("/same")
        if request.url.host == "example.com":
            return redirect("https://cdn.example.net/x")
        return httpx.Response(200, content=b"ok")

    fetcher = mock_fetcher(handler)
    fetcher.get("http://example.com/", headers={"X-Api-Key": "k", "Accept": "a/b"}, secret=["x-api-key"])
    first, same, other = requests
    assert first.headers["x-api-key"] == same.headers["x-api-key"] == "k"  # the same origin keeps it
    assert "x-api-key" not in other.headers and other.headers["accept"] == "a/b"


@pytest.mark.usefixtures("fake_dns")
def test_exactly_max_redirects_is_allowed() -> None:
    handler, _ = routes(
        {
            "http://example.com/0": lambda: redirect("/1"),
            "http://example.com/1": lambda: redirect("/2"),
            "http://example.com/2": lambda: httpx.Response(200, content=b"end"),
        }
    )
    assert mock_fetcher(handler, max_redirects=2).get("http://example.com/0").data == b"end"


@pytest.mark.usefixtures("fake_dns")
def test_too_many_redirects() -> None:
    handler, seen = routes(
        {f"http://example.com/{i}": (lambda i=i: redirect(f"/{i + 1}")) for i in range(10)}
    )
    url = "http://example.com/0"
    with pytest.raises(FetchError, match="too many redirects") as info:
        mock_fetcher(handler, max_redirects=2).get(url)
    assert info.value.reason is Reason.FETCH_FAILED
    assert info.value.uri == url
    assert len(seen) == 3


@pytest.mark.usefixtures("fake_dns")
@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0:8080/",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://localhost/",
        "http://intranet.example/",
        "http://mixed.example/",  # one private answer is enough to refuse
    ],
)
def test_redirect_to_private_address_is_blocked(target: str) -> None:
    handler, seen = routes({"http://example.com/": lambda: redirect(target)})
    url = "http://example.com/"
    with pytest.raises(BlockedAddressError) as info:
        mock_fetcher(handler).get(url)
    assert info.value.reason is Reason.BLOCKED_ADDRESS
    assert info.value.uri == url
    assert "LOOKALIKE_FETCH__ALLOW_NETWORKS=" in info.value.detail
    assert "redirected to" in info.value.detail
    assert seen == [url]  # the blocked hop was never requested


@pytest.mark.usefixtures("fake_dns")
@pytest.mark.parametrize("url", ["http://10.0.0.1/x.jpg", "http://[fe80::1]/", "http://localhost/"])
def test_private_first_url_is_blocked_before_any_request(url: str) -> None:
    handler, seen = routes({})
    with pytest.raises(BlockedAddressError) as info:
        mock_fetcher(handler).get(url)
    assert info.value.uri == url
    assert seen == []


def test_allow_lists_open_only_what_they_name() -> None:
    allowed = Allowed.of(
        FetchSettings(allow_networks=["127.0.0.0/8", "10.0.0.0/8"], allow_hosts=[".home.lan", "box.local"])
    )
    assert allowed.permits("example.com", "93.184.215.14")  # public: always
    assert allowed.permits("127.0.0.1", "127.0.0.1") and allowed.permits("x", "10.9.8.7")
    assert allowed.permits("x", "::ffff:127.0.0.1")  # the IPv4 inside a mapped address counts
    assert not allowed.permits("x", "192.168.1.20") and not allowed.permits("x", "::1")
    assert allowed.permits("nas.home.lan", "192.168.1.20") and allowed.permits("home.lan", "192.168.1.3")
    assert allowed.permits("BOX.local.", "172.16.0.9") and not allowed.permits("other.local", "172.16.0.9")
    assert not allowed.permits("evilhome.lan", "192.168.1.20")  # a domain, not a suffix of letters


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1", "100.100.100.200", "fd00:ec2::254"])
def test_metadata_and_link_local_addresses_need_to_be_listed_by_address(address: str) -> None:
    wide = Allowed.of(
        FetchSettings(allow_networks=["0.0.0.0/0", "::/0", "169.254.0.0/16"], allow_hosts=["meta"])
    )
    assert not wide.permits("meta", address)  # neither a wide network nor the host's name opens it
    assert Allowed.of(FetchSettings(allow_networks=[address])).permits("meta", address)


@pytest.mark.usefixtures("fake_dns")
def test_each_redirect_hop_is_checked_against_the_allow_lists() -> None:
    handler, seen = routes(
        {
            "http://nas.home.lan/": lambda: redirect("http://metadata.home.lan/latest/"),
            "http://metadata.home.lan/latest/": lambda: httpx.Response(200, content=b"secrets"),
        }
    )
    with pytest.raises(BlockedAddressError, match=r"169\.254\.169\.254"):
        mock_fetcher(handler, allow_hosts=[".home.lan"]).get("http://nas.home.lan/")
    assert seen == ["http://nas.home.lan/"]  # the listed NAS, never the metadata address behind it


def test_the_replaced_setting_says_what_to_use() -> None:
    with pytest.raises(ConfigError, match=r"fetch\.allow_networks"):
        load_settings(fetch={"allow_private": True})
    with pytest.raises(ConfigError, match="not a network"):
        load_settings(fetch={"allow_networks": ["10.0.0.0/33"]})


@pytest.mark.usefixtures("fake_dns")
def test_allowed_networks_permit_private_hops() -> None:
    handler, _ = routes(
        {
            "http://example.com/": lambda: redirect("http://127.0.0.1/img"),
            "http://127.0.0.1/img": lambda: httpx.Response(200, content=b"local"),
        }
    )
    got = mock_fetcher(handler, allow_networks=["127.0.0.0/8"]).get("http://example.com/")
    assert got.data == b"local"
    assert got.url == "http://127.0.0.1/img"


@pytest.mark.parametrize("url", ["ftp://example.com/a.jpg", "file:///etc/passwd", "gopher://x/"])
def test_non_http_scheme_is_refused(url: str) -> None:
    handler, seen = routes({})
    with pytest.raises(FetchError, match="only http") as info:
        mock_fetcher(handler).get(url)
    assert info.value.reason is Reason.FETCH_FAILED
    assert info.value.uri == url
    assert seen == []


@pytest.mark.usefixtures("fake_dns")
def test_redirect_to_non_http_scheme_is_refused() -> None:
    handler, _ = routes({"http://example.com/": lambda: redirect("file:///etc/passwd")})
    with pytest.raises(FetchError, match="only http"):
        mock_fetcher(handler).get("http://example.com/")


def test_invalid_url() -> None:
    with pytest.raises(FetchError) as info:
        mock_fetcher(routes({})[0]).get("http://[not-an-ip/")
    assert info.value.uri == "http://[not-an-ip/"


@pytest.mark.usefixtures("fake_dns")
def test_content_length_over_cap_is_refused_without_reading() -> None:
    read = []

    def body() -> Iterator[bytes]:
        read.append(True)
        yield b"x" * 100

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "100"}, content=body())

    with pytest.raises(FetchError) as info:
        mock_fetcher(handler, max_bytes=10).get("http://example.com/big")
    assert info.value.reason is Reason.TOO_LARGE
    assert info.value.uri == "http://example.com/big"
    assert read == []


@pytest.mark.usefixtures("fake_dns")
def test_streamed_body_over_cap_is_refused() -> None:
    chunks_sent = []

    def body() -> Iterator[bytes]:
        for _ in range(1000):
            chunks_sent.append(True)
            yield b"y" * 4

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())  # no Content-Length

    with pytest.raises(FetchError) as info:
        mock_fetcher(handler, max_bytes=10).get("http://example.com/stream")
    assert info.value.reason is Reason.TOO_LARGE
    assert len(chunks_sent) < 1000  # stopped reading early


@pytest.mark.usefixtures("fake_dns")
def test_body_at_cap_is_accepted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"z" * 10)

    assert mock_fetcher(handler, max_bytes=10).get("http://example.com/").data == b"z" * 10


@pytest.mark.usefixtures("fake_dns")
@pytest.mark.parametrize("status", [404, 403, 500])
def test_error_status_raises(status: int) -> None:
    handler, _ = routes({"http://example.com/x": lambda: httpx.Response(status)})
    with pytest.raises(FetchError, match=f"HTTP {status} from http://example.com/x") as info:
        mock_fetcher(handler).get("http://example.com/x")
    assert info.value.reason is Reason.FETCH_FAILED
    assert info.value.uri == "http://example.com/x"


@pytest.mark.usefixtures("fake_dns")
def test_not_modified_is_returned() -> None:
    handler, _ = routes({"http://example.com/x": lambda: httpx.Response(304, headers={"ETag": '"v2"'})})
    got = mock_fetcher(handler).get("http://example.com/x", headers={"If-None-Match": '"v2"'})
    assert got.status == 304
    assert got.data == b""
    assert got.headers["etag"] == '"v2"'


@pytest.mark.usefixtures("fake_dns")
def test_redirect_without_location_fails() -> None:
    handler, _ = routes({"http://example.com/": lambda: httpx.Response(302)})
    with pytest.raises(FetchError, match="without Location"):
        mock_fetcher(handler).get("http://example.com/")


@pytest.mark.usefixtures("fake_dns")
@pytest.mark.parametrize(
    ("error", "message"),
    [
        (httpx.ConnectError("connection refused"), "connection refused"),
        (httpx.ReadTimeout("slow"), "timed out after 1.5s"),
    ],
)
def test_network_errors_become_fetch_errors(error: Exception, message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(FetchError, match=message) as info:
        mock_fetcher(handler, timeout=1.5).get("http://example.com/")
    assert type(info.value) is FetchError
    assert info.value.reason is Reason.FETCH_FAILED
    assert info.value.uri == "http://example.com/"


# --------------------------------------------------------------------------- real sockets


class _Handler(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(f"{self.headers.get('Host')}{self.path}")
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/img")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"\x89PNG fake image"
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[int, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Handler,), {"hits": hits})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd.server_address[1], hits
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_real_private_address_is_blocked(server: tuple[int, list[str]], host: str) -> None:
    port, hits = server
    url = f"http://{host}:{port}/img"
    with Fetcher(FetchSettings(timeout=2)) as fetcher, pytest.raises(BlockedAddressError) as info:
        fetcher.get(url)
    assert info.value.reason is Reason.BLOCKED_ADDRESS
    assert info.value.uri == url
    assert "127.0.0.1" in info.value.detail
    assert "fetch.allow_networks" in info.value.detail
    assert hits == []


def test_guarded_backend_refuses_at_connect_time(server: tuple[int, list[str]]) -> None:
    port, hits = server
    with pytest.raises(BlockedAddressError, match="localhost"):
        fetch._GuardedBackend(fetch.Allowed()).connect_tcp("localhost", port, timeout=2)
    assert hits == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_real_fetch_from_an_allowed_network(server: tuple[int, list[str]], host: str) -> None:
    port, _ = server
    with Fetcher(FetchSettings(allow_networks=LOOPBACK, timeout=2)) as fetcher:
        got = fetcher.get(f"http://{host}:{port}/img")
    assert got.data == b"\x89PNG fake image"
    assert got.content_type == "image/png"
    assert got.status == 200


def test_real_redirect_within_an_allowed_network(server: tuple[int, list[str]]) -> None:
    port, hits = server
    with Fetcher(FetchSettings(allow_networks=LOOPBACK, timeout=2)) as fetcher:
        got = fetcher.get(f"http://127.0.0.1:{port}/redirect")
    assert got.url == f"http://127.0.0.1:{port}/img"
    assert got.data == b"\x89PNG fake image"
    assert hits == [f"127.0.0.1:{port}/redirect", f"127.0.0.1:{port}/img"]


def test_connects_to_the_address_it_checked(
    server: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend connects to the IP its own resolution returned, by name only in Host."""
    port, hits = server
    monkeypatch.setattr(fetch, "_resolve", lambda host, port: ["127.0.0.1"])
    with Fetcher(FetchSettings(allow_networks=LOOPBACK, timeout=2)) as fetcher:
        got = fetcher.get(f"http://images.example:{port}/img")
    assert got.data == b"\x89PNG fake image"
    assert hits == [f"images.example:{port}/img"]


def test_unreachable_port_is_a_fetch_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    with (
        Fetcher(FetchSettings(allow_networks=LOOPBACK, timeout=2)) as fetcher,
        pytest.raises(FetchError) as info,
    ):
        fetcher.get(url)
    assert type(info.value) is FetchError
    assert info.value.reason is Reason.FETCH_FAILED
    assert info.value.uri == url
