"""Remote media (`https://` image/video URLs), only when `allow_remote_media` is on.

A URL a client sends must never reach the gateway's own network: each hop's host is
resolved once, every address must be public (`is_public`: no private, loopback, link-local,
site-local, CGNAT, benchmarking, documentation, multicast, reserved or metadata ranges, and
IPv4 carried inside IPv6 is unwrapped and judged as IPv4), and the connection is pinned to
the checked address, so DNS cannot answer differently the second time. Redirects are
followed by hand and each one is checked again. Size and time are capped, and the content
type must match the part.

One request may name at most `remote_max_count` URLs, fetched at most
`remote_concurrency` at a time (and `remote_global_concurrency` at a time over all
requests), whose bodies together stay under `remote_max_total_mb`: a 3 KB request naming
20 URLs of 30 MB once took the gateway to 1.93 GB.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.config import PreprocessConfig
from preprocess.errors import InvalidMedia, MediaTooLarge
from preprocess.parts import Fetched, Remote

MAX_REDIRECTS = 3
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Allow = Callable[[IPAddress], bool]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Refused even where `ipaddress` calls them global (its tables vary between Python
# releases): special-purpose ranges (RFC 6890 and IANA's registries) no media host lives in.
_REFUSED_V4 = tuple(map(_V4, (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
    "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)))  # fmt: skip
# IPv6 unicast is global only in 2000::/3 (IANA): outside it are ::/8 (unspecified,
# loopback, IPv4-compatible and -translated), 100::/64, 5f00::/16, fc00::/7, fe80::/10,
# fec0::/10 (site-local) and ff00::/8; inside it, these are not global either.
_GLOBAL_V6 = _V6("2000::/3")
_REFUSED_V6 = tuple(map(_V6, ("2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20")))
_NAT64 = _V6("64:ff9b::/96")  # the well-known prefix: DNS64 answers public hosts with it
_NAT64_LOCAL = _V6("64:ff9b:1::/48")
_TEREDO = _V6("2001::/32")


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries: mapped, compatible, translated (SIIT),
    6to4, NAT64 (the well-known /96 and the local-use /48, RFC 6052) or Teredo's client;
    else None.

    >>> [str(embedded_ipv4(ipaddress.ip_address(a))) for a in ("::7f00:1", "2002:a00:1::",
    ...  "64:ff9b::a9fe:a9fe", "64:ff9b:1:7f00:0:100::", "2001:0:4136:e378:8000:63bf:f5ff:fffe")]
    ['127.0.0.1', '10.0.0.1', '169.254.169.254', '127.0.0.1', '10.0.0.1']
    """
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    n = int(ip)
    if ip.ipv4_mapped is not None or ip.sixtofour is not None:
        return ip.ipv4_mapped or ip.sixtofour
    if ip in _TEREDO:
        return ip.teredo[1] if ip.teredo else None
    if n >> 32 in (0, 0xFFFF0000) or ip in _NAT64:  # ::a.b.c.d, ::ffff:0:a.b.c.d, NAT64
        return ipaddress.IPv4Address(n & 0xFFFFFFFF)
    if ip in _NAT64_LOCAL:  # /48 layout: 16 bits, the reserved "u" octet, 16 bits
        return ipaddress.IPv4Address(((n >> 64) & 0xFFFF) << 16 | (n >> 40) & 0xFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast only; IPv4 inside IPv6 is judged as the IPv4 it carries.

    Only the forms that reach that IPv4 host today are let through when it is public
    (mapped, and NAT64's well-known prefix, which DNS64 networks answer with); the
    deprecated and local forms (compatible, translated, 6to4, Teredo, local-use NAT64) are
    refused whatever they carry.

    >>> [is_public(ipaddress.ip_address(a)) for a in
    ...  ("8.8.8.8", "127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "::ffff:10.0.0.1")]
    [True, False, False, False, False, False]
    """
    if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
        reaches_it = ip.ipv4_mapped is not None or ip in _NAT64
        return reaches_it and _public(inner)
    return _public(ip)


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv4Address):
        refused: tuple[_V4, ...] | tuple[_V6, ...] = _REFUSED_V4
    elif ip in _GLOBAL_V6:
        refused = _REFUSED_V6
    else:
        return False
    return ip.is_global and not ip.is_multicast and not any(ip in net for net in refused)


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


@dataclass(frozen=True, slots=True)
class Reach:
    """Which addresses a fetch may connect to and which certificates it trusts: public
    addresses and the system's CAs. Tests narrow both to a loopback server of theirs."""

    allow: Allow = is_public
    ssl: Any = True


async def fetch_media(
    url: str,
    kind: str,
    param: str,
    *,
    max_bytes: int,
    timeout_s: float = 15.0,
    reach: Reach = Reach(),  # noqa: B008 - frozen, so one shared default is safe
    budget: Budget | None = None,
) -> tuple[str, bytes]:
    """GET an `https://` media URL safely; returns (content type, bytes). Each chunk read
    is also taken from `budget`, the bytes all of one request's fetches may hold."""
    budget = budget or Budget(max_bytes)
    for _ in range(MAX_REDIRECTS + 1):
        host, port = _https_target(url, param)
        ip = await _checked_address(host, port, param, reach.allow)
        connector = aiohttp.TCPConnector(resolver=_Pinned(host, ip), ssl=reach.ssl)
        try:
            async with (
                aiohttp.ClientSession(connector=connector) as session,
                asyncio.timeout(timeout_s),
                session.get(url, allow_redirects=False) as r,
            ):
                if r.status in (301, 302, 303, 307, 308) and "Location" in r.headers:
                    url = urljoin(url, r.headers["Location"])
                    continue
                return await _body(r, kind, param, max_bytes, budget)
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
    r: aiohttp.ClientResponse, kind: str, param: str, max_bytes: int, budget: Budget
) -> tuple[str, bytes]:
    if r.status != 200:
        raise InvalidMedia(f"remote {kind} answered HTTP {r.status}", param)
    mime = r.content_type.lower()
    if not mime.startswith(f"{kind}/"):
        raise InvalidMedia(f"remote {kind} has content type {mime!r}, not {kind}/*", param)
    if (r.content_length or 0) > max_bytes:
        raise MediaTooLarge(f"remote {kind} is larger than {max_bytes} bytes", param)
    budget.check(r.content_length or 0, param)
    data = bytearray()
    async for chunk in r.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > max_bytes:
            raise MediaTooLarge(f"remote {kind} is larger than {max_bytes} bytes", param)
        budget.take(len(chunk), param)  # a failed fetch fails its request: nothing to return
    if not data:
        raise InvalidMedia(f"remote {kind} is empty (0 bytes)", param)
    return mime, bytes(data)


class Budget:
    """The bytes one request's remote media may still take, all fetches together."""

    def __init__(self, total: int) -> None:
        self.total, self.left = total, total

    def check(self, size: int, param: str) -> None:
        """MediaTooLarge when `size` more bytes would not fit."""
        if size > self.left:
            raise MediaTooLarge(
                f"remote media in this request add up to more than {self.total / 2**20:g} MiB "
                "(preprocess.remote_max_total_mb): send fewer or smaller files",
                param,
            )

    def take(self, size: int, param: str) -> None:
        self.check(size, param)
        self.left -= size


async def fetch_all(
    urls: Remote,
    media: PreprocessConfig,
    reach: Reach = Reach(),  # noqa: B008 - frozen
) -> Fetched:
    """Fetch a request's remote media within its caps: count, total bytes, concurrency.

    The first failure cancels the fetches still running, so a refused request stops
    spending memory and connections at once.
    """
    check_count(urls, media)
    budget = Budget(int(media.remote_max_total_mb * 2**20))
    mine = asyncio.Semaphore(media.remote_concurrency)
    everyone = _global_slots(media.remote_global_concurrency)

    async def one(url: str, kind: str, param: str) -> tuple[str, bytes]:
        async with mine, everyone:
            return await fetch_media(
                url, kind, param, max_bytes=int(media.remote_max_mb * 2**20),
                timeout_s=media.remote_timeout_s, reach=reach, budget=budget,
            )  # fmt: skip

    tasks = [asyncio.ensure_future(one(url, *where)) for url, where in urls.items()]
    try:
        results = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return dict(zip(urls, results, strict=True))


def check_count(urls: Remote, media: PreprocessConfig) -> None:
    """InvalidMedia when a request names more remote media than it may (before any fetch)."""
    if len(urls) > media.remote_max_count:
        param = list(urls.values())[media.remote_max_count][1]
        raise InvalidMedia(
            f"the request names {len(urls)} remote media URLs; at most "
            f"{media.remote_max_count} are fetched (preprocess.remote_max_count): send "
            "fewer, or send them as data: URLs",
            param,
        )


_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _global_slots(size: int) -> asyncio.Semaphore:
    """The fetch slots all requests share: one semaphore per event loop (the gateway runs
    one; tests run many), sized by the first config that asks."""
    return _SLOTS.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(size))


def unfetched(urls: Remote, media: PreprocessConfig) -> Fetched:
    """The dry run's stand-ins for remote media, which it never fetches: no bytes, so an
    image counts at the image budget and a video as one of unknown length (at the cap)."""
    check_count(urls, media)
    return {url: (f"{kind}/*", b"") for url, (kind, _) in urls.items()}


def unfetched_note(urls: Remote) -> dict[str, Any]:
    """What the dry run says about the remote media it counted without fetching."""
    kinds = [kind for kind, _ in urls.values()]
    return {
        "fetched": False,
        "images": kinds.count("image"),
        "videos": kinds.count("video"),
        "counted_as": "each image at routing.image_tokens; each video as "
        "preprocess.video_max_seconds of stills",
    }
