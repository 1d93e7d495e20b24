"""What the server lets an image be: the fetch policy and the size limits (frozen settings,
built once from the server config and handed to vision/ functions; no module state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openmini.config import ServerConfig

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int = 20 * MB  # one image's encoded bytes (a data: URL's decoded payload too)
    max_images: int = 32  # images in one request
    max_pixels: int = 40_000_000  # width x height, read from the header before decoding


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """Where an image may come from.

    - `urls`: http(s) images at all (`--no-image-urls` turns them off);
    - `domains`: when set, a URL's host must be one of these (exact, case-insensitive; a
      leading "." also takes subdomains: ".example.com");
    - `allow_hosts`: hosts or addresses let through although they resolve to a private,
      loopback or otherwise refused address (an intranet image store); none by default;
    - `roots`: directories `file://` may read under (resolved, no escape); none by default;
    - `timeout_s`: the whole fetch (connect, redirects, body); `max_redirects` followed, each
      checked again; the body is cut at ImageLimits.max_bytes.
    """

    urls: bool = True
    domains: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    roots: tuple[str, ...] = ()
    timeout_s: float = 10.0
    max_redirects: int = 3


def from_config(config: ServerConfig) -> tuple[SourcePolicy, ImageLimits]:
    """The server config's image settings (config.py) as the policy and the limits."""
    policy = SourcePolicy(urls=not config.no_image_urls, domains=config.image_domains,
                          allow_hosts=config.image_allow_hosts, roots=config.image_roots)
    limits = ImageLimits(max_bytes=config.max_image_bytes, max_images=config.max_images,
                         max_pixels=config.max_image_pixels)
    return policy, limits
