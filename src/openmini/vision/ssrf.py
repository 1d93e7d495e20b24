"""The address checks behind image URLs: which hosts a URL may name and which addresses the
server may connect to for it.

A host is resolved once; every address it resolves to must be public (`is_global`, and none of
loopback, private, link-local, multicast, reserved, unspecified or shared 100.64/10), or the
host (or the address) must be listed in `SourcePolicy.allow_hosts`. IPv6 forms that carry an
IPv4 address (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo) are
judged by the IPv4 address they carry. A host spelled as an address, in any form `inet_aton`
takes (`2130706433`, `0x7f.1`, `127.1`), is read as that address and checked the same way.
The caller connects to the addresses returned here and nowhere else (PinnedBackend).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpcore

from openmini.errors import ImageRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]  # host, port -> IP address strings

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_LEGACY_IPV4 = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)  # what inet_aton may read as IPv4
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


async def system_resolver(host: str, port: int) -> list[str]:
    """Both address families, through the running loop's getaddrinfo (off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def normalize_host(host: str) -> str:
    """The host as it is compared and sent: an address in its standard spelling, or a name in
    lower-case ASCII (IDNA) without a trailing dot. Refuses what is neither."""
    address = parse_address(host)
    if address is not None:
        return str(address)
    name = _ascii_name(host)
    if name is None or not _HOST_NAME.fullmatch(name):
        raise ImageRefused("the URL's host name is not valid")
    return name


def _ascii_name(name: str) -> str | None:
    try:
        return name.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def _entries(names: Iterable[str]) -> set[str]:
    """Configured hosts and domains, spelled as normalize_host spells a URL's host."""
    entries = set()
    for entry in names:
        name = entry.strip()
        address = parse_address(name)
        if address is not None:
            entries.add(str(address))
        else:
            leading = "." if name.startswith(".") else ""
            entries.add(leading + (_ascii_name(name.lstrip(".")) or name.lower()))
    return entries


def parse_address(host: str) -> IPAddress | None:
    """The address a URL host spells, if it spells one: the standard IPv4 and IPv6 forms, and
    the legacy IPv4 forms (a single number, hex or octal parts, fewer than four parts)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _LEGACY_IPV4.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def domain_allowed(host: str, domains: Iterable[str]) -> bool:
    """`host` is one of `domains` (exact); an entry with a leading "." also takes subdomains."""
    for domain in _entries(domains):
        if domain.startswith("."):
            if host == domain[1:] or host.endswith(domain):
                return True
        elif host == domain:
            return True
    return False


async def checked_addresses(host: str, port: int, allow_hosts: Iterable[str],
                            resolver: Resolver) -> list[str]:
    """The addresses to connect to for `host` (normalized), each checked; refuses the host
    when any address is refused. A name is resolved exactly once, here."""
    allowed = _entries(allow_hosts)
    literal = parse_address(host)
    addresses = [literal] if literal is not None else await _resolve(host, port, resolver)
    verb = "is" if literal is not None else "resolves to"
    for address in addresses:
        if host in allowed or _address_listed(address, allowed):
            continue
        reason = address_refusal(address)
        if reason is not None:
            raise ImageRefused(f"the host {verb} {reason}")
    return list(dict.fromkeys(str(_connectable(address)) for address in addresses))


def _connectable(address: IPAddress) -> IPAddress:
    """A mapped address as the IPv4 address it is (reachable without an IPv6 stack)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


async def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        answers = await resolver(host, port)
    except OSError:
        raise ImageRefused(f"the host {host} could not be resolved") from None
    if not answers:
        raise ImageRefused(f"the host {host} could not be resolved")
    try:
        return [ipaddress.ip_address(answer) for answer in answers]
    except ValueError:
        raise ImageRefused(f"the host {host} resolved to something not an address") from None


def _address_listed(address: IPAddress, allowed: set[str]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(str(address).partition("%")[0])
    if str(address) in allowed:
        return True
    return _is_translation(address) and str(_embedded(address)[0]) in allowed


def address_refusal(address: IPAddress) -> str | None:
    """Why the server may not connect to `address` ("a loopback address (127.0.0.1)"), or
    None when it may."""
    inner = _embedded(address)
    kinds = [_kind(v4) for v4 in inner]
    if not _is_translation(address):
        kinds.append(_kind(address))
    kind = next((k for k in kinds if k is not None), None)
    return None if kind is None else f"{kind} ({address})"


def _kind(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "a non-public address"
    return None


def _embedded(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, NAT64, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    return []


def _is_translation(address: IPAddress) -> bool:
    """A mapped or NAT64 address reaches exactly the IPv4 address it carries: judged by it alone
    (6to4 and Teredo also go through a relay, so their own prefix is judged too)."""
    return isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or address in _NAT64)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked addresses only, whatever host httpcore asks for: the name was
    resolved once, before the check, and is never looked up again (DNS rebinding)."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self._addresses = addresses
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        error: Exception = httpcore.ConnectError("no address to connect to")
        for address in self._addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for images")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
