"""Remote media fetching: SSRF refusals (no connection is ever made to them) and the fetch
itself against a local HTTPS server (loopback allowed for the test only)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from gateway.fetch import fetch_media, is_public
from preprocess.errors import InvalidMedia, MediaTooLarge

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


def test_is_public() -> None:
    import ipaddress

    assert is_public(ipaddress.ip_address("1.1.1.1"))
    assert not is_public(ipaddress.ip_address("fe80::1"))


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
    options = {"max_bytes": 10**6, "allow": loopback_only, "ssl": ctx, **kw}
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
