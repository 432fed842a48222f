"""What every backend has, kept fresh in the background so routing does no I/O.

Requests read `Keeper.snapshot`, an immutable `Inventory`. A background task replaces it
every `server.refresh_seconds`, and at once when a request finds a backend down or a model
missing (coalesced: concurrent callers share one refresh). A refresh is logged only when it
changed something (`changes`): a backend up or down, models appearing or disappearing, the
loaded set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from gateway.backends import Backend
from gateway.core.catalogue import Catalogue
from gateway.core.errors import GatewayError
from gateway.core.inventory import BackendState, Inventory
from gateway.core.model import ModelInfo

log = logging.getLogger("gateway.inventory")
LIST_TIMEOUT_S = 10.0


class Keeper:
    """Owns the backends' inventory snapshot and the task that refreshes it."""

    def __init__(
        self, backends: Sequence[Backend], interval_s: float, catalogue: Catalogue
    ) -> None:
        self.backends = list(backends)
        self.interval_s = interval_s
        self.catalogue = catalogue
        self.snapshot = Inventory()
        self._refreshing: asyncio.Task[Inventory] | None = None

    async def refresh(self) -> Inventory:
        """Take a new snapshot; callers arriving during a refresh wait for the same one."""
        return await asyncio.shield(self.refresh_soon())

    def refresh_soon(self) -> asyncio.Task[Inventory]:
        """Start a refresh unless one is under way (e.g. after a backend failed a request)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._take())
        return self._refreshing

    async def _take(self) -> Inventory:
        states = await asyncio.gather(*(_state(b, self.catalogue) for b in self.backends))
        before, self.snapshot = self.snapshot, Inventory(tuple(states), time.monotonic())
        for level, message, fields in changes(before, self.snapshot):
            log.log(level, message, extra=fields)
        return self.snapshot

    async def run(self) -> None:
        """Refresh forever (cancel to stop); a failing backend never stops the loop."""
        while True:
            try:
                await self.refresh()
            except Exception:  # a bug here must not end refreshing for good
                log.exception("inventory refresh failed")
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()


async def _state(backend: Backend, catalogue: Catalogue) -> BackendState:
    def state(detail: str = "", models: tuple[ModelInfo, ...] | None = None) -> BackendState:
        return BackendState(backend.name, backend.kind, backend.url, models is not None, detail,
                            models or (), backend.sizes_context)  # fmt: skip

    try:
        async with asyncio.timeout(LIST_TIMEOUT_S):
            models = await backend.list_models()
    except GatewayError as e:
        return state(e.message)
    except TimeoutError:
        return state(f"listing models took over {LIST_TIMEOUT_S:g}s")
    return state(models=tuple(catalogue.resolve(m, backend.cfg.edge_images) for m in models))


Change = tuple[int, str, dict[str, object]]  # a log level, a message, its fields


def changes(before: Inventory, after: Inventory) -> list[Change]:
    """What a new snapshot changed, as log records: a backend up (or first seen) or down,
    models appeared or disappeared, the loaded set; nothing when nothing changed."""
    was = {b.name: b for b in before.backends}
    found: list[Change] = []
    for b in after.backends:
        old = was.get(b.name)
        if not b.healthy:
            if old is None or old.healthy:
                found.append(_change(b, "down", f"is down: {b.detail}", logging.WARNING))
        elif old is None or not old.healthy:
            loaded = ", ".join(_ids(b, loaded=True)) or "none"
            found.append(_change(b, "up", f"is up: {len(b.models)} models, loaded: {loaded}"))
        else:
            found += _model_changes(old, b)
    return found


def _model_changes(old: BackendState, new: BackendState) -> list[Change]:
    before, after = set(_ids(old)), set(_ids(new))
    found = [
        _change(new, f"models_{what}", f"models {what}: {', '.join(sorted(names))}")
        for what, names in (("appeared", after - before), ("disappeared", before - after))
        if names
    ]
    if (was := _ids(old, loaded=True)) != (now := _ids(new, loaded=True)):
        text = f"loaded models now {', '.join(now) or 'none'} (were {', '.join(was) or 'none'})"
        found.append(_change(new, "loaded", text))
    return found


def _change(b: BackendState, event: str, text: str, level: int = logging.INFO) -> Change:
    return level, f"backend {b.name} {text}", {"backend": b.name, "event": event}


def _ids(state: BackendState, loaded: bool = False) -> list[str]:
    return sorted(m.id for m in state.models if m.loaded or not loaded)
