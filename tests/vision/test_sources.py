"""Image URLs against real servers on loopback: http(s) behind the SSRF guard (data: and
file:// in test_sources_local.py).

No test reaches past loopback: every TCP connect goes through a spy that records the address
and fails anything that is not 127.0.0.1 (an offline internet), so "the fetch went to the
checked address" is observed, not assumed.
"""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpcore
import pytest

from openmini.errors import ImageRefused
from openmini.vision import sources
from openmini.vision.policy import ImageLimits, SourcePolicy
from openmini.vision.sources import load_image_bytes

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
LIMITS = ImageLimits(max_bytes=1000)
LOCAL = SourcePolicy(allow_hosts=("127.0.0.1",))
NAMED = SourcePolicy(allow_hosts=("images.test",))
DEFAULT = SourcePolicy()

# A self-signed certificate for images.test (valid 2000-2999) and its key.
CERT = """-----BEGIN CERTIFICATE-----
MIIBezCCASCgAwIBAgIUQhjv5eg0aHaWtxRwxbsAptZm0RkwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLaW1hZ2VzLnRlc3QwIBcNMDAwMTAxMDAwMDAwWhgPMjk5OTAx
MDEwMDAwMDBaMBYxFDASBgNVBAMMC2ltYWdlcy50ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEnBzjnO/qv3mEIHQk4IVaFTHFjp0XdnnSTjGU06NNahpt8M1z
lBdCrR27FR2pw0ErCMW0b0KItOPxkT3/XSsaw6NKMEgwFgYDVR0RBA8wDYILaW1h
Z2VzLnRlc3QwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUmWd3YLq6YHjoD3xg
B2w1H3yO4/QwCgYIKoZIzj0EAwIDSQAwRgIhAPKifbsJkg+BpAbqgTVFwI7JoYjZ
OR4kmOBLPv8A2uMyAiEAlA+8fICwlKhYe16sJZ9qwxztYWjC2L9iWj/g0LIveUg=
-----END CERTIFICATE-----
"""
KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5x5Rva4lPJgKm1l4
G2rAQVbeQf2/tuvulGWgbi5YcgWhRANCAAScHOOc7+q/eYQgdCTghVoVMcWOnRd2
edJOMZTTo01qGm3wzXOUF0KtHbsVHanDQSsIxbRvQoi04/GRPf9dKxrD
-----END PRIVATE KEY-----
"""


class Handler(http.server.BaseHTTPRequestHandler):
    """/img, /big, /unsized, /empty, /status/N, /redirect?to=URL, /loop, /slow, /garbage."""

    server: Server

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers.items())))
        url = urlsplit(self.path)
        if url.path == "/redirect":
            return self._send(302, b"", location=parse_qs(url.query)["to"][0])
        if url.path == "/loop":
            return self._send(302, b"", location="/loop")
        if url.path == "/slow":
            self.server.release.wait(5)
        if url.path.startswith("/status/"):
            return self._send(int(url.path.rsplit("/", 1)[1]), b"no")
        if url.path == "/garbage":
            self.wfile.write(b"this is not HTTP\r\n\r\n")
            return None
        if url.path == "/unsized":  # HTTP/1.0: the body ends when the connection closes
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 50_000)
            return None
        body = {"/big": b"x" * 5000, "/empty": b""}.get(url.path, IMAGE)
        return self._send(200, body)

    def _send(self, status: int, body: bytes, location: str | None = None) -> None:
        self.send_response(status)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()
        self.sni: list[str | None] = []
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up early (cut bodies, refused TLS) are expected

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    server = Server(tls)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def _public() -> Iterator[Server]:
    yield from _serve()


@pytest.fixture(scope="module")
def _internal() -> Iterator[Server]:
    yield from _serve()


@pytest.fixture(scope="module")
def _tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_text(CERT)
    (folder / "key.pem").write_text(KEY)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    yield from _serve(context)


@pytest.fixture
def public(_public: Server) -> Server:
    """The image server the tests mean to reach."""
    _public.requests.clear()
    return _public


@pytest.fixture
def internal(_internal: Server) -> Iterator[Server]:
    """A server standing for the internal network: it must never receive a request."""
    _internal.requests.clear()
    yield _internal
    assert _internal.requests == []


@pytest.fixture(autouse=True)
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a TCP connection is opened to; anything but 127.0.0.1 fails (offline)."""
    seen: list[str] = []
    connect = httpcore.AnyIOBackend.connect_tcp

    async def spy(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        seen.append(host)
        if host != "127.0.0.1":
            raise httpcore.ConnectError("offline")
        return await connect(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", spy)
    return seen


class FakeDNS:
    """Names to successive answers (the last one repeats); records every lookup."""

    def __init__(self, **names: list[str] | list[list[str]]) -> None:
        self.names = {name.replace("_", "."): answers for name, answers in names.items()}
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        answers = self.names[host]
        count = sum(1 for seen in self.lookups if seen == host)
        self.lookups.append(host)
        if answers and isinstance(answers[0], list):
            return list(answers[min(count, len(answers) - 1)])
        return [str(answer) for answer in answers]


async def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} should not have been looked up")


async def refused(url: str, policy: SourcePolicy = DEFAULT, **kw: Any) -> str:
    with pytest.raises(ImageRefused) as caught:
        await load_image_bytes(url, policy, LIMITS, **kw)
    return caught.value.message


# http(s)://


async def test_http_literal_address(public: Server, connects: list[str]) -> None:
    url = f"http://127.0.0.1:{public.port}/img"
    assert await load_image_bytes(url, LOCAL, LIMITS, resolver=no_dns) == IMAGE
    headers = public.requests[0][1]
    assert headers["Host"] == f"127.0.0.1:{public.port}"
    assert headers["User-Agent"] == "openmini"
    assert "Cookie" not in headers
    assert connects == ["127.0.0.1"]


async def test_allow_hosts_takes_addresses(public: Server) -> None:
    dns = FakeDNS(images_test=["127.0.0.1"])
    url = f"http://images.test:{public.port}/img"
    assert await load_image_bytes(url, LOCAL, LIMITS, resolver=dns) == IMAGE
    odd = f"http://0x7f.1:{public.port}/img"  # an odd spelling is read as the address it is
    assert await load_image_bytes(odd, LOCAL, LIMITS, resolver=no_dns) == IMAGE
    assert public.requests[-1][1]["Host"] == f"127.0.0.1:{public.port}"


async def test_http_name_connects_to_the_checked_address(public: Server,
                                                         connects: list[str]) -> None:
    # The system cannot resolve images.test, and the fake would answer differently a
    # second time: the fetch succeeds only by connecting to the first, checked, answer.
    dns = FakeDNS(images_test=[["127.0.0.1"], ["203.0.113.9"]])
    url = f"http://images.test:{public.port}/img"
    assert await load_image_bytes(url, NAMED, LIMITS, resolver=dns) == IMAGE
    assert public.requests[0][1]["Host"] == f"images.test:{public.port}"
    assert connects == ["127.0.0.1"]
    assert dns.lookups == ["images.test"]


async def test_redirect_followed_and_checked_again(public: Server) -> None:
    dns = FakeDNS(images_test=["127.0.0.1"])
    url = f"http://images.test:{public.port}/redirect?to=/img"
    assert await load_image_bytes(url, NAMED, LIMITS, resolver=dns) == IMAGE
    assert [path for path, _ in public.requests] == ["/redirect?to=/img", "/img"]
    assert dns.lookups == ["images.test", "images.test"]  # each hop resolved and checked


async def test_dns_rebinding(internal: Server, connects: list[str]) -> None:
    dns = FakeDNS(rebind_test=[["93.184.216.34"], ["127.0.0.1"]])
    cause = await refused(f"http://rebind.test:{internal.port}/img", resolver=dns)
    assert cause == "could not connect to rebind.test (93.184.216.34)"
    assert connects == ["93.184.216.34"]
    assert dns.lookups == ["rebind.test"]


async def test_urls_turned_off() -> None:
    assert "turned off" in await refused("http://images.test/img", SourcePolicy(urls=False))


@pytest.mark.parametrize(("domains", "host", "ok"), [
    (("images.test",), "images.test", True),
    (("IMAGES.test",), "Images.TEST.", True),
    ((".images.test",), "cdn.images.test", True),
    ((".images.test",), "images.test", True),
    (("images.test",), "cdn.images.test", False),
    ((".images.test",), "evilimages.test", False),
    (("example.com",), "images.test", False),
])
async def test_domains(public: Server, domains: tuple[str, ...], host: str, ok: bool) -> None:
    names = ("images.test", "cdn.images.test", "evilimages.test")
    policy = SourcePolicy(domains=domains, allow_hosts=names)
    dns = FakeDNS(**{name.replace(".", "_"): ["127.0.0.1"] for name in names})
    url = f"http://{host}:{public.port}/img"
    if ok:
        assert await load_image_bytes(url, policy, LIMITS, resolver=dns) == IMAGE
    else:
        assert "not an allowed domain" in await refused(url, policy, resolver=dns)
        assert dns.lookups == []


@pytest.mark.parametrize(("host", "cause"), [
    ("127.0.0.1", "is a loopback address (127.0.0.1)"),
    ("10.1.2.3", "a private address (10.1.2.3)"),
    ("172.16.0.1", "a private address"),
    ("192.168.1.1", "a private address"),
    ("169.254.169.254", "a link-local address (169.254.169.254)"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"),
    ("0.0.0.0", "an unspecified address"),
    ("240.0.0.1", "address (240.0.0.1)"),
    ("224.0.0.1", "a multicast address"),
    ("[::1]", "a loopback address (::1)"),
    ("[fe80::1]", "a link-local address"),
    ("[fc00::1]", "a private address"),
    ("[ff02::1]", "a multicast address"),
    ("[::ffff:127.0.0.1]", "a loopback address (::ffff:"),
    ("[::ffff:a9fe:a9fe]", "a link-local address"),
    ("[64:ff9b::a00:1]", "a private address (64:ff9b::a00:1)"),  # NAT64 of 10.0.0.1
    ("[2002:7f00:1::]", "a loopback address"),  # 6to4 of 127.0.0.1
    ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "address"),  # Teredo
    ("2130706433", "a loopback address (127.0.0.1)"),
    ("0x7f000001", "a loopback address (127.0.0.1)"),
    ("0x7f.1", "a loopback address (127.0.0.1)"),
    ("127.1", "a loopback address (127.0.0.1)"),
    ("0177.0.0.1", "a loopback address (127.0.0.1)"),
])
async def test_refused_addresses(internal: Server, host: str, cause: str) -> None:
    assert cause in await refused(f"http://{host}:{internal.port}/img", resolver=no_dns)


@pytest.mark.parametrize("answers", [
    ["127.0.0.1", "::1"],
    ["93.184.216.34", "10.0.0.1"],  # one good, one bad
    ["2606:2800:220:1::1", "::ffff:192.168.0.1"],
])
async def test_refused_resolutions(internal: Server, answers: list[str]) -> None:
    dns = FakeDNS(localhost=answers)
    cause = await refused(f"http://localhost:{internal.port}/img", resolver=dns)
    assert cause.startswith("the host resolves to a")


async def test_system_resolver_localhost(internal: Server) -> None:
    assert "a loopback address" in await refused(f"http://localhost:{internal.port}/img")


async def test_public_addresses_pass_the_check(connects: list[str]) -> None:
    dns = FakeDNS(images_test=["93.184.216.34", "2606:2800:220:1::1", "::ffff:93.184.216.34"])
    assert "could not connect" in await refused("https://images.test/a.png", resolver=dns)
    assert connects == ["93.184.216.34", "2606:2800:220:1::1"]  # the mapped one is the first


async def test_credentials_and_bad_hosts() -> None:
    assert "credentials" in await refused("http://user:pw@images.test/img")
    assert "credentials" in await refused("http://user@images.test/img")
    assert "port is not valid" in await refused("http://images.test:99999/img")
    assert "not valid" in await refused("http://bad host/img")
    assert "not valid" in await refused("http://[::1/img")
    assert "not valid" in await refused("file://[x/img", SourcePolicy(roots=("/srv",)))
    nowhere = FakeDNS(nope_test=[])
    assert "could not be resolved" in await refused("http://nope.test/", resolver=nowhere)


async def test_redirect_to_a_refused_address(public: Server, internal: Server) -> None:
    dns = FakeDNS(images_test=["127.0.0.1"], intranet_test=["10.0.0.7"])
    for target in (f"http://127.0.0.1:{internal.port}/img", "http://intranet.test/img",
                   f"http://[::ffff:127.0.0.1]:{internal.port}/img"):
        url = f"http://images.test:{public.port}/redirect?to={quote(target)}"
        assert "the host " in await refused(url, NAMED, resolver=dns)
    url = f"http://images.test:{public.port}/redirect?to={quote('http://[::1')}"
    assert "redirected to an invalid URL" in await refused(url, NAMED, resolver=dns)
    url = f"http://images.test:{public.port}/redirect?to=file:///etc/passwd"
    policy = SourcePolicy(allow_hosts=("images.test",), roots=("/",))
    assert "only http(s)" in await refused(url, policy, resolver=dns)


async def test_too_many_redirects(public: Server) -> None:
    policy = SourcePolicy(allow_hosts=("127.0.0.1",), max_redirects=2)
    cause = await refused(f"http://127.0.0.1:{public.port}/loop", policy)
    assert cause == "too many redirects (more than 2)"
    assert len(public.requests) == 3


@pytest.mark.parametrize(("path", "cause"), [
    ("/big", "larger than the 1000 bytes limit"),  # Content-Length says so
    ("/unsized", "larger than the 1000 bytes limit"),  # cut while streaming
    ("/status/404", "answered 404"),
    ("/status/500", "answered 500"),
    ("/status/304", "answered 304"),
    ("/garbage", "did not answer with valid HTTP"),
    ("/empty", "the image is empty"),
])
async def test_http_refused(public: Server, path: str, cause: str) -> None:
    assert cause in await refused(f"http://127.0.0.1:{public.port}{path}", LOCAL)


async def test_timeout(public: Server) -> None:
    policy = SourcePolicy(allow_hosts=("127.0.0.1",), timeout_s=0.3)
    cause = await refused(f"http://127.0.0.1:{public.port}/slow", policy)
    assert cause == "fetching the image timed out after 0.3 s"


async def test_connection_refused() -> None:
    with Server() as server:
        port = server.port  # bound, closed on exit: nothing listens there afterwards
    cause = await refused(f"http://127.0.0.1:{port}/img", LOCAL)
    assert cause == "could not connect to 127.0.0.1 (127.0.0.1)"


async def test_tls_verified_against_the_name(_tls_server: Server, public: Server) -> None:
    dns = FakeDNS(images_test=["127.0.0.1"])
    url = f"https://images.test:{_tls_server.port}/img"
    cause = await refused(url, NAMED, resolver=dns)
    assert cause.startswith("the TLS connection to images.test (127.0.0.1) failed (self")
    assert _tls_server.sni[-1] == "images.test"
    plain = await refused(f"https://images.test:{public.port}/img", NAMED, resolver=dns)
    assert "TLS connection" in plain


async def test_tls_ok(_tls_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_tls_context", lambda: ssl.create_default_context(cadata=CERT))
    dns = FakeDNS(images_test=["127.0.0.1"], other_test=["127.0.0.1"])
    url = f"https://images.test:{_tls_server.port}/img"
    assert await load_image_bytes(url, NAMED, LIMITS, resolver=dns) == IMAGE
    assert _tls_server.requests[-1][1]["Host"] == f"images.test:{_tls_server.port}"
    policy = SourcePolicy(allow_hosts=("other.test",))
    wrong_name = await refused(f"https://other.test:{_tls_server.port}/img", policy, resolver=dns)
    assert "TLS connection to other.test" in wrong_name
