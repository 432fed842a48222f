"""Remote media (`https://` image/video/audio URLs), only when `allow_remote_media` is on.

A URL a client sends must never reach the gateway's own network: each hop's host is
resolved once, every address must be public (no private, loopback, link-local, CGNAT,
multicast, reserved or metadata ranges, IPv4-mapped forms included), and the connection is
pinned to the checked address, so DNS cannot answer differently the second time.
Redirects are followed by hand and each one is checked again. Size and time are capped,
and the content type must match the part.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from preprocess.errors import InvalidMedia, MediaTooLarge

MAX_REDIRECTS = 3
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Allow = Callable[[IPAddress], bool]


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast only.

    >>> [is_public(ipaddress.ip_address(a)) for a in
    ...  ("8.8.8.8", "127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "::ffff:10.0.0.1")]
    [True, False, False, False, False, False]
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _Pinned(AbstractResolver):
    """Resolves exactly one host to the one address that was checked."""

    def __init__(self, host: str, ip: str) -> None:
        self.host, self.ip = host, ip

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self.host:
            raise OSError(f"unexpected host {host!r}")
        fam = socket.AF_INET6 if ":" in self.ip else socket.AF_INET
        return [ResolveResult(hostname=host, host=self.ip, port=port, family=fam, proto=0,
                              flags=socket.AI_NUMERICHOST)]  # fmt: skip

    async def close(self) -> None:
        return None


async def fetch_media(
    url: str,
    kind: str,
    param: str,
    *,
    max_bytes: int,
    timeout_s: float = 15.0,
    allow: Allow = is_public,
    ssl: Any = True,
) -> tuple[str, bytes]:
    """GET an `https://` media URL safely; returns (content type, bytes)."""
    for _ in range(MAX_REDIRECTS + 1):
        host, port = _https_target(url, param)
        ip = await _checked_address(host, port, param, allow)
        connector = aiohttp.TCPConnector(resolver=_Pinned(host, ip), ssl=ssl)
        try:
            async with (
                aiohttp.ClientSession(connector=connector) as session,
                asyncio.timeout(timeout_s),
                session.get(url, allow_redirects=False) as r,
            ):
                if r.status in (301, 302, 303, 307, 308) and "Location" in r.headers:
                    url = urljoin(url, r.headers["Location"])
                    continue
                return await _body(r, kind, param, max_bytes)
        except TimeoutError:
            raise InvalidMedia(f"remote {kind} took over {timeout_s:g}s to fetch", param) from None
        except aiohttp.ClientError as e:
            raise InvalidMedia(f"remote {kind} could not be fetched ({e})", param) from None
    raise InvalidMedia(f"remote {kind} redirected more than {MAX_REDIRECTS} times", param)


def _https_target(url: str, param: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidMedia("remote media must be an https:// URL", param)
    return parts.hostname, parts.port or 443


async def _checked_address(host: str, port: int, param: str, allow: Allow) -> str:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise InvalidMedia(f"remote media host {host!r} does not resolve", param) from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses or not all(allow(a) for a in addresses):
        raise InvalidMedia(
            f"remote media host {host!r} resolves to a private, loopback, link-local or "
            "otherwise non-public address; the gateway does not fetch from there",
            param,
        )
    return str(addresses[0])


async def _body(
    r: aiohttp.ClientResponse, kind: str, param: str, max_bytes: int
) -> tuple[str, bytes]:
    if r.status != 200:
        raise InvalidMedia(f"remote {kind} answered HTTP {r.status}", param)
    mime = r.content_type.lower()
    if not mime.startswith(f"{kind}/"):
        raise InvalidMedia(f"remote {kind} has content type {mime!r}, not {kind}/*", param)
    if (r.content_length or 0) > max_bytes:
        raise MediaTooLarge(f"remote {kind} is larger than {max_bytes} bytes", param)
    data = bytearray()
    async for chunk in r.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > max_bytes:
            raise MediaTooLarge(f"remote {kind} is larger than {max_bytes} bytes", param)
    return mime, bytes(data)
