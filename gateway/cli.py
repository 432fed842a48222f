"""`gateway` command line: up, down, status, models, route.

Exit codes: 0 success (for `status`: ready); 1 failure (for `status`: running but not ready);
2 bad usage or configuration; 3 `status` found no running gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from gateway import __version__
from gateway.backends import build_backend
from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.core.catalogue import Catalogue
from gateway.core.errors import GatewayError
from gateway.core.inventory import Inventory
from gateway.core.pipeline import Pipeline
from gateway.core.routing import Wish
from gateway.daemon import detach, pid_file, read_pid_file, serve, stop
from gateway.edge import parse_chat_request
from gateway.embedded import EmbeddedError
from gateway.fronts.openai import dry_run, to_request
from gateway.keeper import Keeper
from gateway.logs import configure as configure_logging
from gateway.metrics import Metrics
from gateway.status import auto_choices, report
from preprocess.errors import InvalidMedia

T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    args.argv = argv
    try:
        config, _ = load_config(args.config)
        if getattr(args, "host", None):
            config.server.host = args.host
        if getattr(args, "port", None) is not None:
            config.server.port = args.port
    except ConfigError as e:
        print(f"gateway: {e}", file=sys.stderr)
        return 2
    return int(args.run(args, config))


def run_fast(main: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run` on uvloop when it is installed (libuv's loop: less CPU per request and
    per streamed chunk than asyncio's own), else on asyncio's."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"gemma-gateway {__version__}")
    sub = p.add_subparsers(required=True, metavar="command")
    up = sub.add_parser("up", help="start the gateway (foreground unless --detach)")
    up.add_argument("--host", help="listen address (default from config: 127.0.0.1)")
    up.add_argument("--port", type=int, help="listen port (default from config: 8080)")
    up.add_argument("--detach", action="store_true", help="run in the background")
    up.add_argument("--embedded", action="store_true", help="also start the embedded engine")
    up.set_defaults(run=cmd_up)
    dry = sub.add_parser("route", help="print the routing decision for a request, no forwarding")
    dry.add_argument("file", help="a chat request JSON file, or - for stdin")
    dry.add_argument("--model", help="as the X-Gateway-Model header")
    dry.add_argument("--backend", help="as the X-Gateway-Backend header")
    dry.add_argument("--prefer", help="as the X-Gateway-Prefer header: speed|balanced|quality")
    dry.set_defaults(run=cmd_route)
    sub.add_parser("down", help="stop a running gateway gracefully").set_defaults(run=cmd_down)
    for name, run, text in (
        ("status", cmd_status, "backends' health and load, loaded models, what auto would choose"),
        ("models", cmd_models, "the routable models"),
    ):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("--json", action="store_true", help="print JSON, for scripts")
        sp.set_defaults(run=run)
    for sp in sub.choices.values():
        sp.add_argument("--config", help="config file (default: the documented lookup order)")
    return p


def cmd_up(args: argparse.Namespace, config: GatewayConfig) -> int:
    try:
        config.server.check_exposure()
    except ConfigError as e:
        print(f"gateway: {e}", file=sys.stderr)
        return 2
    if args.detach:
        return detach([a for a in args.argv if a != "--detach"], config)
    configure_logging(config)  # a detached gateway is this too, in its own process
    try:
        run_fast(serve(config, args.embedded))
    except EmbeddedError as e:
        print(f"gateway: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        where = f"{config.server.host}:{config.server.port}"
        print(f"gateway: cannot listen on {where}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def cmd_down(args: argparse.Namespace, config: GatewayConfig) -> int:
    return stop(config)


def cmd_status(args: argparse.Namespace, config: GatewayConfig) -> int:
    running = read_pid_file(pid_file(config))
    if running is None:
        print(json.dumps({"status": "not running"}) if args.json else "gateway: not running")
        return 3
    try:
        ready = _request_json(running.url + "/readyz", config)
    except OSError as e:
        print(f"gateway: pid {running.pid} at {running.url} does not answer ({e})")
        return 1

    def ask(path: str, body: bytes) -> Any:
        return _request_json(running.url + path, config, body)

    auto = auto_choices(ask)
    if args.json:
        print(json.dumps({**ready, "url": running.url, "pid": running.pid, "auto": auto},
                         indent=2))  # fmt: skip
    else:
        print(report(ready, auto, f"{running.url} (pid {running.pid})"))
    return 0 if ready["status"] == "ready" else 1


def cmd_models(args: argparse.Namespace, config: GatewayConfig) -> int:
    """From the running gateway when there is one, else straight from the backends."""
    running = read_pid_file(pid_file(config))
    rows = _models_from_gateway(running.url, config) if running else _models_direct(config)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0 if rows else 1
    print(f"{'model':40} {'member':16} {'backend':10} {'inputs':24} {'context':>8} loaded")
    for r in rows:
        print(
            f"{r['id']:40} {r['member'] or '-':16} {r['backend']:10} "
            f"{','.join(r['inputs']):24} {r['context'] or '-':>8} {'yes' if r['loaded'] else 'no'}"
        )
    return 0 if rows else 1


def cmd_route(args: argparse.Namespace, config: GatewayConfig) -> int:
    """The decision as JSON: from the running gateway when there is one (it sees the embedded
    engine and its own load), else from the configured backends asked directly."""
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    wish = {"X-Gateway-Model": args.model, "X-Gateway-Backend": args.backend,
            "X-Gateway-Prefer": args.prefer}  # fmt: skip
    if running := read_pid_file(pid_file(config)):
        headers = {k: v for k, v in wish.items() if v}
        answer = _request_json(running.url + "/v1/gateway/route", config, raw, headers)
        if "error" in answer:
            answer = {"error": answer["error"]["message"]}
    else:
        answer = _route_direct(raw, Wish(*wish.values()), config)
    print(json.dumps(answer, indent=2))
    return 1 if "error" in answer else 0


def _route_direct(raw: bytes, wish: Wish, config: GatewayConfig) -> dict[str, Any]:
    """The dry run without a gateway: the same prepare and plan, on the configured backends."""

    async def run(pipeline: Pipeline) -> dict[str, Any]:
        try:
            return await dry_run(pipeline, to_request(parse_chat_request(raw), wish))
        except (GatewayError, InvalidMedia) as e:
            return {"error": e.message}

    return asyncio.run(_with_pipeline(config, run))


def _models_from_gateway(url: str, config: GatewayConfig) -> list[dict[str, Any]]:
    listing = _request_json(url + "/v1/models", config)
    return [{"id": m["id"], **m["gateway"]} for m in listing["data"] if "gateway" in m]


def _models_direct(config: GatewayConfig) -> list[dict[str, Any]]:
    snapshot = asyncio.run(_with_pipeline(config, _snapshot))
    return [
        {"id": m.id, "backend": m.backend, "member": m.member, "inputs": sorted(m.takes),
         "context": m.context, "loaded": m.loaded}
        for m in snapshot.models()
    ]  # fmt: skip


async def _with_pipeline(config: GatewayConfig, use: Callable[[Pipeline], Awaitable[T]]) -> T:
    """`use` run on a pipeline over the configured backends, asked directly (no gateway)."""
    config = config.with_default_backends()
    backends = {b.name: build_backend(b) for b in config.backends}
    keeper = Keeper(list(backends.values()), 60, Catalogue(config.models))
    try:
        for b in (await keeper.refresh()).backends:
            if not b.healthy:
                print(f"# {b.name}: {b.detail}", file=sys.stderr)
        with ThreadPoolExecutor(config.preprocess.workers) as pool:
            return await use(Pipeline(config, keeper, backends, pool, Metrics()))
    finally:
        await asyncio.gather(*(b.close() for b in backends.values()))


async def _snapshot(pipeline: Pipeline) -> Inventory:
    return pipeline.keeper.snapshot


def _request_json(
    url: str,
    config: GatewayConfig,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """GET (or POST `data`) to the running gateway; error statuses' JSON bodies are answers."""
    request = urllib.request.Request(
        url, data, {"Content-Type": "application/json", **(headers or {})}
    )
    if config.server.api_keys:
        request.add_header("Authorization", f"Bearer {config.server.api_keys[0]}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # e.g. /readyz answers 503 with a body
        return json.load(e)
