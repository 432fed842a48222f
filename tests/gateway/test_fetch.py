"""Remote media fetching: SSRF refusals (no connection is ever made to them) and the fetch
itself against a local HTTPS server (loopback allowed for the test only)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from gateway.config import PreprocessConfig
from gateway.fetch import Reach, embedded_ipv4, fetch_all, fetch_media, is_public
from preprocess.errors import InvalidMedia, MediaTooLarge
from tests.netns import run_isolated_network

P = "messages[0].content[0].image_url.url"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x.png",
        "https://localhost/x.png",
        "https://10.0.0.1/x.png",
        "https://192.168.1.1/x.png",
        "https://172.16.0.1/x.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/x.png",
        "https://[::1]/x.png",
        "https://[::ffff:10.0.0.1]/x.png",
        "https://224.0.0.1/x.png",
        "https://0.0.0.0/x.png",
    ],
)
async def test_non_public_destinations_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(InvalidMedia, match="non-public address") as err:
        await asyncio.wait_for(fetch_media(url, "image", P, max_bytes=10**6), 5)
    assert err.value.param == P


@pytest.mark.parametrize("url", ["http://example.com/x.png", "file:///etc/passwd", "ftp://x/y"])
async def test_only_https_is_fetched(url: str) -> None:
    with pytest.raises(InvalidMedia, match="https://"):
        await fetch_media(url, "image", P, max_bytes=10**6)


PUBLIC = True
ADDRESSES = [
    # plain IPv4
    ("1.1.1.1", PUBLIC, "public"),
    ("8.8.8.8", PUBLIC, "public"),
    ("93.184.216.34", PUBLIC, "public"),
    ("0.0.0.0", False, "unspecified"),
    ("0.1.2.3", False, "this network"),
    ("10.1.2.3", False, "private"),
    ("100.64.0.1", False, "CGNAT"),
    ("100.127.255.254", False, "CGNAT"),
    ("127.0.0.1", False, "loopback"),
    ("127.8.9.10", False, "loopback"),
    ("169.254.169.254", False, "link-local metadata"),
    ("172.16.0.1", False, "private"),
    ("172.31.255.255", False, "private"),
    ("192.0.0.170", False, "IETF protocol assignments (NAT64 discovery)"),
    ("192.0.2.1", False, "documentation"),
    ("192.88.99.1", False, "6to4 relay anycast"),
    ("192.168.1.1", False, "private"),
    ("198.18.0.1", False, "benchmarking"),
    ("198.19.255.255", False, "benchmarking"),
    ("198.51.100.7", False, "documentation"),
    ("203.0.113.9", False, "documentation"),
    ("224.0.0.1", False, "multicast"),
    ("239.255.255.250", False, "multicast"),
    ("240.0.0.1", False, "reserved"),
    ("255.255.255.255", False, "broadcast"),
    # plain IPv6
    ("2606:4700:4700::1111", PUBLIC, "public"),
    ("2a00:1450:4001:80b::200e", PUBLIC, "public"),
    ("::", False, "unspecified"),
    ("::1", False, "loopback"),
    ("fe80::1", False, "link-local"),
    ("fec0::1", False, "site-local (deprecated)"),
    ("feff::1", False, "site-local (deprecated)"),
    ("fc00::1", False, "unique local"),
    ("fd12:3456::1", False, "unique local"),
    ("ff02::1", False, "multicast"),
    ("ff0e::1", False, "multicast, global scope"),
    ("2001:db8::1", False, "documentation"),
    ("3fff::1", False, "documentation (RFC 9637)"),
    ("2001:2::1", False, "benchmarking"),
    ("100::1", False, "discard-only"),
    ("5f00::1", False, "SRv6 SIDs"),
    # IPv4 inside IPv6
    ("::ffff:127.0.0.1", False, "mapped loopback"),
    ("::ffff:10.0.0.1", False, "mapped private"),
    ("::ffff:169.254.169.254", False, "mapped metadata"),
    ("::ffff:8.8.8.8", PUBLIC, "mapped public: reaches 8.8.8.8"),
    ("::7f00:1", False, "compatible loopback"),
    ("::a9fe:a9fe", False, "compatible metadata"),
    ("::808:808", False, "compatible (deprecated) even when public"),
    ("2002:7f00:1::", False, "6to4 loopback"),
    ("2002:a9fe:a9fe::1", False, "6to4 metadata"),
    ("2002:808:808::1", False, "6to4 (deprecated) even when public"),
    ("64:ff9b::7f00:1", False, "NAT64 loopback"),
    ("64:ff9b::a9fe:a9fe", False, "NAT64 metadata"),
    ("64:ff9b::a00:1", False, "NAT64 private"),
    ("64:ff9b::6440:1", False, "NAT64 CGNAT"),
    ("64:ff9b::808:808", PUBLIC, "NAT64 public: what DNS64 answers"),
    ("64:ff9b:1:7f00:0:100::", False, "local-use NAT64 loopback"),
    ("64:ff9b:1:808:0:808::", False, "local-use NAT64, even when public"),
    ("::ffff:0:7f00:1", False, "IPv4-translated (SIIT) loopback"),
    ("::ffff:0:808:808", False, "IPv4-translated (SIIT) even when public"),
    ("::1:7f00:1", False, "reserved ::/8"),
    ("1::7f00:1", False, "reserved ::/8"),
    ("4000::1", False, "outside global unicast 2000::/3"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", False, "Teredo, client 127.0.0.1"),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", False, "Teredo, client 8.8.8.8"),
]


@pytest.mark.parametrize(
    ("address", "public", "why"), ADDRESSES, ids=[f"{a} {w}" for a, _, w in ADDRESSES]
)
def test_is_public(address: str, public: bool, why: str) -> None:
    """Issue 8, class 5: IPv6 forms carrying IPv4 (compatible, 6to4, NAT64) and site-local
    fec0::/10 passed the check and a connection was attempted."""
    assert is_public(ipaddress.ip_address(address)) is public, why


@pytest.mark.parametrize(
    ("address", "inner"),
    [("::ffff:1.2.3.4", "1.2.3.4"), ("::1.2.3.4", "1.2.3.4"), ("2002:102:304::", "1.2.3.4"),
     ("::ffff:0:102:304", "1.2.3.4"), ("64:ff9b::102:304", "1.2.3.4"),
     ("64:ff9b:1:102:3:400::", "1.2.3.4"),
     ("2001:0:4136:e378:8000:63bf:fefd:fcfb", "1.2.3.4"), ("2606:4700::1", None),
     ("1.2.3.4", None)],
)  # fmt: skip
def test_embedded_ipv4_unwraps_every_form(address: str, inner: str | None) -> None:
    found = embedded_ipv4(ipaddress.ip_address(address))
    assert (str(found) if found else None) == inner


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", d / "key.pem", "-out", d / "cert.pem", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
async def server(tls: tuple[Path, Path]) -> AsyncIterator[tuple[str, ssl.SSLContext]]:
    async def png(_: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html>", content_type="text/html")

    async def big(_: web.Request) -> web.StreamResponse:
        r = web.StreamResponse(headers={"Content-Type": "image/png"})  # no length: streamed
        await r.prepare(_)
        for _i in range(64):
            await r.write(b"\x00" * 65536)
        return r

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=PNG, content_type="image/png")

    def redirect(to: str):  # type: ignore[no-untyped-def]
        async def handler(_: web.Request) -> web.Response:
            raise web.HTTPFound(to)

        return handler

    app = web.Application()
    app.add_routes([web.get("/x.png", png), web.get("/page", html), web.get("/big", big),
                    web.get("/slow", slow), web.get("/hop", redirect("/x.png")),
                    web.get("/to-private", redirect("https://10.0.0.1/x.png")),
                    web.get("/loop", redirect("/loop"))])  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*tls)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = runner.addresses[0][1]
    client_ctx = ssl.create_default_context(cafile=str(tls[0]))
    yield f"https://127.0.0.1:{port}", client_ctx
    await runner.cleanup()


def loopback_only(ip: object) -> bool:
    return bool(getattr(ip, "is_loopback", False))


async def fetch(url: str, ctx: ssl.SSLContext, **kw: object) -> tuple[str, bytes]:
    options = {"max_bytes": 10**6, "reach": Reach(loopback_only, ctx), **kw}
    return await fetch_media(url, "image", P, **options)  # type: ignore[arg-type]


async def test_fetches_over_tls_to_the_checked_address(server: tuple[str, ssl.SSLContext]) -> None:
    base, ctx = server
    assert await fetch(base + "/x.png", ctx) == ("image/png", PNG)
    assert await fetch(base + "/hop", ctx) == ("image/png", PNG)  # a redirect, re-checked


async def test_a_redirect_to_a_private_address_is_refused(
    server: tuple[str, ssl.SSLContext],
) -> None:
    base, ctx = server
    with pytest.raises(InvalidMedia, match="non-public"):
        await fetch(base + "/to-private", ctx)


@pytest.mark.parametrize(
    ("path", "error", "says", "kw"),
    [
        ("/page", InvalidMedia, "content type 'text/html'", {}),
        ("/big", MediaTooLarge, "larger than", {}),
        ("/nope", InvalidMedia, "HTTP 404", {}),
        ("/loop", InvalidMedia, "redirected more than", {}),
        ("/slow", InvalidMedia, "took over", {"timeout_s": 0.3}),
    ],
)
async def test_fetch_limits(
    server: tuple[str, ssl.SSLContext], path: str, error: type[Exception], says: str,
    kw: dict[str, object],
) -> None:  # fmt: skip
    base, ctx = server
    with pytest.raises(error, match=says):
        await fetch(base + path, ctx, **kw)


NETNS_PROBE = """
import asyncio, json, sys
from asyncio import selector_events
from gateway.fetch import Reach, fetch_media
from preprocess.errors import InvalidMedia

attempts = []
real_connect = selector_events.BaseSelectorEventLoop.sock_connect

async def recording_connect(self, sock, address):
    attempts.append(str(address[0]))
    return await real_connect(self, sock, address)

selector_events.BaseSelectorEventLoop.sock_connect = recording_connect

async def outcome(url, **kw):
    try:
        await asyncio.wait_for(fetch_media(url, "image", "p", max_bytes=10**6, **kw), 5)
    except InvalidMedia as e:
        return e.message
    return "fetched"

async def main():
    refused = {u: await outcome(u) for u in json.loads(sys.argv[1])}
    seen, attempts[:] = list(attempts), []
    control = await outcome("https://127.0.0.1:9/x.png", reach=Reach(lambda ip: True))
    print(json.dumps({"refused": refused, "attempts": seen, "control": attempts}))

asyncio.run(main())
"""


def test_no_connection_is_attempted_to_any_non_public_form() -> None:
    """Issue 8, class 5, end to end: fetch_media with the real guard, in a network namespace
    of its own, records every connect(); none is made for any non-public address. The
    control (a guard that allows everything) shows a connect would be seen."""
    urls = [f"https://[{a}]/x.png" if ":" in a else f"https://{a}/x.png"
            for a, public, _ in ADDRESSES if not public]  # fmt: skip
    code = NETNS_PROBE.replace("json.loads(sys.argv[1])", repr(urls))
    result = json.loads(run_isolated_network(code))
    assert result["control"] == ["127.0.0.1"]
    assert result["attempts"] == []
    for url, message in result["refused"].items():
        assert "non-public address" in message, (url, message)


@pytest.fixture
async def counting(tls: tuple[Path, Path]) -> AsyncIterator[tuple[str, ssl.SSLContext, Counter]]:
    """An HTTPS server whose `/held?n=BYTES` answers after 50 ms, counting requests and the
    most in flight at once."""
    stats: Counter = Counter()

    async def held(request: web.Request) -> web.Response:
        stats["requests"] += 1
        stats["now"] += 1
        stats["most"] = max(stats["most"], stats["now"])
        try:
            await asyncio.sleep(0.05)
        finally:
            stats["now"] -= 1
        return web.Response(body=PNG.ljust(int(request.query.get("n", 100)), b"\0"),
                            content_type="image/png")  # fmt: skip

    app = web.Application()
    app.add_routes([web.get("/held", held)])
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*tls)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx).start()
    yield (
        f"https://127.0.0.1:{runner.addresses[0][1]}",
        ssl.create_default_context(cafile=str(tls[0])),
        stats,
    )
    await runner.cleanup()


def remote(base: str, count: int, size: int = 100, tag: str = "") -> dict[str, tuple[str, str]]:
    """`count` distinct URLs of `size`-byte images, as `remote_urls` lists them."""
    return {f"{base}/held?n={size}&i={i}{tag}": ("image", f"messages[0].content[{i}].image_url.url")
            for i in range(count)}  # fmt: skip


async def test_more_urls_than_remote_max_count_are_refused_before_any_fetch(
    counting: tuple[str, ssl.SSLContext, Counter],
) -> None:
    """Issue 8, class 4: one request could name any number of URLs, all fetched at once."""
    base, ctx, stats = counting
    with pytest.raises(InvalidMedia, match="names 9 remote media URLs; at most 8") as err:
        await fetch_all(remote(base, 9), PreprocessConfig(), reach=Reach(loopback_only, ctx))
    assert err.value.param == "messages[0].content[8].image_url.url"
    assert stats["requests"] == 0


async def test_remote_media_together_stay_under_remote_max_total_mb(
    counting: tuple[str, ssl.SSLContext, Counter],
) -> None:
    """Six 300 KB files under a 1 MiB total: the fourth that arrives fails the request (413)
    and the fetches still running are cancelled."""
    base, ctx, stats = counting
    media = PreprocessConfig(remote_max_total_mb=1, remote_concurrency=8)
    with pytest.raises(MediaTooLarge, match="add up to more than 1 MiB") as err:
        await fetch_all(remote(base, 6, 300_000), media, reach=Reach(loopback_only, ctx))
    assert err.value.status == 413
    fits = await fetch_all(remote(base, 3, 300_000), media, reach=Reach(loopback_only, ctx))
    assert [len(data) for _, data in fits.values()] == [300_000] * 3


async def test_fetches_run_at_most_remote_concurrency_at_once(
    counting: tuple[str, ssl.SSLContext, Counter],
) -> None:
    base, ctx, stats = counting
    media = PreprocessConfig(remote_concurrency=3)
    fetched = await fetch_all(remote(base, 8), media, reach=Reach(loopback_only, ctx))
    assert len(fetched) == 8 and stats["requests"] == 8 and stats["most"] == 3


async def test_all_requests_together_fetch_at_most_remote_global_concurrency(
    counting: tuple[str, ssl.SSLContext, Counter],
) -> None:
    base, ctx, stats = counting
    media = PreprocessConfig(remote_concurrency=4, remote_global_concurrency=5)
    urls = [remote(base, 4, tag=f"&r={r}") for r in range(4)]  # four requests
    await asyncio.gather(*(fetch_all(u, media, reach=Reach(loopback_only, ctx)) for u in urls))
    assert stats["requests"] == 16 and stats["most"] == 5
