"""Where an image part comes from: the bytes behind a `data:`, `http(s)://` or `file://` URL,
fetched so that a request cannot turn the server against its own network.

An image URL is input from whoever may call the API, and a server that fetches it blindly is
an SSRF proxy into its own network: cloud metadata (169.254.169.254), admin ports on
localhost, the intranet. vLLM and SGLang still fetch internal addresses by default
(vllm#57157, sglang#17269); openmini does not:

- `data:` URLs: image media types only, base64 only (strict), the size checked on the encoded
  length before decoding and on the bytes after.
- `http(s)://` URLs: only when `SourcePolicy.urls`; the host must match `domains` when set; no
  credentials in the URL; the host is resolved once and every address checked (ssrf.py), then
  the connection goes to the checked address and nowhere else (so DNS rebinding cannot swap
  in an internal one), while the Host header, TLS SNI and certificate check use the name.
  Redirects are followed by hand, each target checked from scratch; the whole fetch is bounded
  by `timeout_s` and the body is cut at `ImageLimits.max_bytes`. No cookies, no proxies from
  the environment, a fixed User-Agent.
- `file://` URLs: only under `SourcePolicy.roots`, the path resolved with symlinks followed
  (no escape by `..` or by a link), regular files only, read off the event loop.

Every refusal is an `ImageRefused` that says the cause; the caller names the part.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import re
import ssl
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

import httpcore

from openmini.errors import ImageRefused
from openmini.vision import ssrf
from openmini.vision.policy import MB, ImageLimits, SourcePolicy
from openmini.vision.ssrf import Resolver

__all__ = ["Resolver", "load_image_bytes"]

_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_INLINE_DECODE = 64 * 1024  # a data: URL longer than this is decoded off the event loop
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HEADERS = [(b"User-Agent", b"openmini"), (b"Accept", b"image/*,*/*;q=0.5"),
            (b"Accept-Encoding", b"identity")]
_NETWORK_ERRORS = (httpcore.NetworkError, httpcore.TimeoutException, httpcore.ProtocolError,
                   httpcore.UnsupportedProtocol, httpcore.ProxyError, OSError)


async def load_image_bytes(url: str, policy: SourcePolicy, limits: ImageLimits, *,
                           resolver: Resolver | None = None) -> bytes:
    """The encoded image bytes behind `url`, or ImageRefused saying why not. `resolver` maps
    (host, port) to addresses; the system's getaddrinfo by default."""
    url = url.strip()
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    if scheme == "data":
        small = len(url) <= _INLINE_DECODE
        data = _decode_data_url(url, limits) if small else await asyncio.to_thread(
            _decode_data_url, url, limits)
    elif scheme in _DEFAULT_PORTS:
        if not policy.urls:
            raise ImageRefused("image URLs are turned off on this server; send the image "
                               "inline as a data: URL")
        data = await _fetch(url, policy, limits, resolver or ssrf.system_resolver)
    elif scheme == "file":
        data = await _read_file_url(url, policy, limits)
    else:
        raise ImageRefused(_unsupported(scheme, policy))
    if not data:
        raise ImageRefused("the image is empty")
    return data


def _unsupported(scheme: str, policy: SourcePolicy) -> str:
    accepted = ["data:"]
    if policy.urls:
        accepted.append("http(s)://")
    if policy.roots:
        accepted.append("file://")
    takes = f"(this server takes {', '.join(accepted)})"
    if not scheme:
        return f"the image URL has no scheme {takes}"
    return f"the URL scheme '{scheme[:20]}' is not accepted {takes}"


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError:  # an unclosed "[", a bad IPv6 literal
        raise ImageRefused("the image URL is not valid") from None


def _too_large(limits: ImageLimits) -> ImageRefused:
    size = limits.max_bytes
    limit = f"{size // MB} MB" if size % MB == 0 else f"{size} bytes"
    return ImageRefused(f"the image is larger than the {limit} limit")


# data:


def _decode_data_url(url: str, limits: ImageLimits) -> bytes:
    header, comma, payload = url[len("data:"):].partition(",")
    if not comma:
        raise ImageRefused("the data: URL has no ',' before its payload")
    media, *params = (part.strip().lower() for part in header.split(";"))
    if not media.startswith("image/"):
        raise ImageRefused(f"a data: URL must hold an image, not '{media[:40] or 'text/plain'}'")
    if "base64" not in params:
        raise ImageRefused("only base64 data: URLs are accepted (data:image/...;base64,...)")
    payload = "".join(payload.split())
    padding = len(payload) - len(payload.rstrip("="))
    if len(payload) * 3 // 4 - min(padding, 2) > limits.max_bytes:
        raise _too_large(limits)
    try:
        data = base64.b64decode(payload, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise ImageRefused("the data: URL's base64 payload is malformed") from None
    if len(data) > limits.max_bytes:
        raise _too_large(limits)
    return data


# http(s)://


@dataclass(frozen=True, slots=True)
class _Target:
    """One hop of a fetch, checked: where to connect and what to ask for."""

    scheme: str
    host: str  # normalized: the Host header, TLS SNI and certificate name
    port: int
    path: str  # path and query, percent-encoded ASCII
    addresses: list[str]  # the checked addresses, the only ones connected to

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


async def _fetch(url: str, policy: SourcePolicy, limits: ImageLimits,
                 resolver: Resolver) -> bytes:
    try:
        async with asyncio.timeout(policy.timeout_s):
            return await _follow(url, policy, limits, resolver)
    except TimeoutError:
        raise ImageRefused(f"fetching the image timed out after {policy.timeout_s:g} s") from None


async def _follow(url: str, policy: SourcePolicy, limits: ImageLimits,
                  resolver: Resolver) -> bytes:
    for _ in range(policy.max_redirects + 1):
        target = await _check(url, policy, resolver)
        body, location = await _get(target, limits)
        if location is None:
            return body
        try:
            url = urljoin(url, location)
        except ValueError:
            raise ImageRefused("the image server redirected to an invalid URL") from None
    raise ImageRefused(f"too many redirects (more than {policy.max_redirects})")


async def _check(url: str, policy: SourcePolicy, resolver: Resolver) -> _Target:
    """The URL (the first one or a redirect's) checked from scratch: scheme, credentials,
    domains, and every address the host resolves to."""
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ImageRefused(f"the image URL redirected to a '{scheme[:20]}' URL; only http(s) "
                           "is followed")
    if "@" in parts.netloc:
        raise ImageRefused("a URL with credentials (user:password@host) is not accepted")
    if not parts.hostname:
        raise ImageRefused("the image URL has no host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise ImageRefused("the image URL's port is not valid") from None
    host = ssrf.normalize_host(parts.hostname)
    if policy.domains and not ssrf.domain_allowed(host, policy.domains):
        raise ImageRefused(f"images are not fetched from {host} (not an allowed domain)")
    addresses = await ssrf.checked_addresses(host, port, policy.allow_hosts, resolver)
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=~?")
    return _Target(scheme, host, port, path, addresses)


async def _get(target: _Target, limits: ImageLimits) -> tuple[bytes, str | None]:
    """One GET over a connection to the target's checked addresses: (body, None), or
    (b"", location) for a redirect."""
    pool = httpcore.AsyncConnectionPool(
        ssl_context=_tls_context() if target.scheme == "https" else None,
        network_backend=ssrf.PinnedBackend(target.addresses), max_connections=1, retries=0)
    url = httpcore.URL(scheme=target.scheme, host=target.host, port=target.port,
                       target=target.path)
    headers = [(b"Host", target.host_header.encode("ascii")), *_HEADERS]
    try:
        async with pool, pool.stream("GET", url, headers=headers) as response:
            return await _read(response, limits)
    except _NETWORK_ERRORS as exc:
        raise _network_refusal(exc, target) from None


async def _read(response: httpcore.Response, limits: ImageLimits) -> tuple[bytes, str | None]:
    status = response.status
    if status in _REDIRECTS:
        location = _header(response.headers, b"location")
        if not location:
            raise ImageRefused(f"the image server answered {status} without a Location")
        return b"", location
    if not 200 <= status < 300:
        raise ImageRefused(f"the image server answered {status}")
    length = _header(response.headers, b"content-length")
    if length and length.strip().isdigit() and int(length) > limits.max_bytes:
        raise _too_large(limits)
    body = bytearray()
    async for chunk in response.aiter_stream():
        body += chunk
        if len(body) > limits.max_bytes:
            raise _too_large(limits)
    return bytes(body), None


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _network_refusal(exc: BaseException, target: _Target) -> ImageRefused:
    where = f"{target.host} ({', '.join(target.addresses)})"
    tls = exc if isinstance(exc, ssl.SSLError) else exc.__cause__ or exc.__context__
    if isinstance(tls, ssl.SSLError):
        why = getattr(tls, "verify_message", None) or tls.reason or "handshake failed"
        return ImageRefused(f"the TLS connection to {where} failed ({why})")
    if isinstance(exc, httpcore.TimeoutException):
        return ImageRefused(f"the connection to {where} timed out")
    if isinstance(exc, httpcore.ConnectError):
        return ImageRefused(f"could not connect to {where}")
    if isinstance(exc, httpcore.ProtocolError):
        return ImageRefused(f"{where} did not answer with valid HTTP")
    return ImageRefused(f"the connection to {where} failed")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Certificate and host name verified (certifi's roots), built once."""
    return httpcore.default_ssl_context()


# file://


async def _read_file_url(url: str, policy: SourcePolicy, limits: ImageLimits) -> bytes:
    if not policy.roots:
        raise ImageRefused("file:// images are not enabled on this server")
    parts = _split(url)
    if parts.netloc.lower() not in ("", "localhost"):
        raise ImageRefused(f"a file:// URL cannot name a host ('{parts.netloc[:60]}')")
    if parts.query or parts.fragment:
        raise ImageRefused("a file:// URL takes a path only (no '?' or '#')")
    path = unquote(parts.path)
    if not path.startswith("/") or "\x00" in path:
        raise ImageRefused("a file:// URL needs an absolute path (file:///dir/image.png)")
    return await asyncio.to_thread(_read_under_roots, path, policy.roots, limits)


def _read_under_roots(path: str, roots: Iterable[str], limits: ImageLimits) -> bytes:
    """Blocking: resolve `path` (symlinks followed), check it lies under a root, read it."""
    resolved_roots = [Path(root).resolve() for root in roots]
    outside = ImageRefused("the file is outside the directories images may be read from")
    try:
        # Checked before strict resolution too, so that nothing is said about files outside.
        if not _under(Path(path).resolve(), resolved_roots):
            raise outside
        real = Path(path).resolve(strict=True)
    except FileNotFoundError:
        raise ImageRefused("the file does not exist") from None
    except (OSError, RuntimeError):  # permissions, a symlink loop
        raise ImageRefused("the file cannot be read") from None
    if not _under(real, resolved_roots):
        raise outside
    return _read_regular_file(real, limits)


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _read_regular_file(path: Path, limits: ImageLimits) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        raise ImageRefused("the file cannot be read") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageRefused("the path is not a regular file")
        if info.st_size > limits.max_bytes:
            raise _too_large(limits)
        with open(fd, "rb", closefd=False) as file:
            data = file.read(limits.max_bytes + 1)
    except OSError:
        raise ImageRefused("the file cannot be read") from None
    finally:
        os.close(fd)
    if len(data) > limits.max_bytes:
        raise _too_large(limits)
    return data
