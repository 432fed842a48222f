"""Typed keys for what the app and each request carry."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from gateway.backends import Backend
from gateway.budget import ByteBudget
from gateway.config import GatewayConfig
from gateway.core.pipeline import Pipeline
from gateway.fronts import Endpoint
from gateway.keeper import Keeper
from gateway.metrics import Metrics

CONFIG = web.AppKey("config", GatewayConfig)
KEEPER = web.AppKey("keeper", Keeper)
BACKENDS = web.AppKey("backends", dict[str, Backend])
REQUEST_ID = web.RequestKey("request_id", str)
FIRST_BYTE = web.RequestKey("first_byte", float)  # perf_counter when the answer's head went out
USAGE = web.RequestKey("usage", dict[str, Any])  # the usage the answer reported (`logs`)
MEDIA_POOL = web.AppKey("media_pool", ThreadPoolExecutor)
METRICS = web.AppKey("metrics", Metrics)
BUDGET = web.AppKey("budget", ByteBudget)
PIPELINE = web.AppKey("pipeline", Pipeline)
ENDPOINTS = web.AppKey("endpoints", dict[str, Endpoint])  # by path
