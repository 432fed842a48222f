"""Configuration: one TOML file, environment overrides, defaults that need no file.

Lookup order: `--config`, `$GATEWAY_CONFIG`, `./gateway.toml`,
`$XDG_CONFIG_HOME/gateway/gateway.toml` (`~/.config` when unset). Every key of a table
section can be overridden by `GATEWAY_<SECTION>_<KEY>` (e.g. `GATEWAY_SERVER_PORT=9000`);
a backend's keys by `GATEWAY_BACKENDS_<NAME>_<KEY>` with NAME its upper-cased name
(`GATEWAY_BACKENDS_OLLAMA_URL=...`). Environment values are read as TOML values when they
parse as one (`9000`, `true`, `["a", "b"]`) and as plain strings otherwise.
Unknown keys and bad values raise `ConfigError` naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.core.family import A26B, ALIASES, D12B, D31B, E2B, E4B, EMBEDDING_ALIASES
from preprocess.media import MediaLimits

ENV_PREFIX = "GATEWAY_"
DEFAULT_BACKENDS = (
    {"name": "ollama", "kind": "ollama", "url": "http://127.0.0.1:11434"},
    {"name": "lmstudio", "kind": "openai", "url": "http://127.0.0.1:1234"},
)


class ConfigError(Exception):
    """A configuration problem, with the offending key in the message."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _api_key(key: str) -> str:
    if not re.fullmatch(r"[\x21-\x7e]+", key):
        raise ValueError(
            "an API key must be non-empty printable ASCII without spaces (an empty key would "
            "let every request in)"
        )
    return key


ApiKey = Annotated[str, AfterValidator(_api_key)]


def is_loopback(host: str) -> bool:
    """Whether `host` listens only on this machine.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.5")]
    [True, True, True, False, False]
    """
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: it may resolve to any interface
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    api_keys: list[ApiKey] = Field(default_factory=list)
    allow_unauthenticated: bool = False
    max_body_mb: float = Field(default=64, gt=0)
    # Request bodies held at once, all requests together (`gateway.budget`); one request is
    # always admitted when nothing else is in flight.
    max_inflight_mb: float = Field(default=512, gt=0)
    # Deadlines on clients, so a quiet one holds neither a connection nor a backend slot:
    # the request head (and an idle keep-alive connection), the whole body, each write back.
    header_timeout_s: float = Field(default=15, gt=0)
    body_timeout_s: float = Field(default=60, gt=0)
    client_write_timeout_s: float = Field(default=60, gt=0)
    # Browser origins allowed to call the API (`gateway.cors`); "*" for any. Empty: no CORS.
    cors_origins: list[str] = Field(default_factory=list)
    refresh_seconds: float = Field(default=10, gt=0)
    # Responses kept for `previous_response_id` and `GET /v1/responses/{id}` (in memory,
    # least recently used dropped first; 0 keeps none), and for how long.
    responses_store_max: int = Field(default=1000, ge=0)
    responses_store_ttl_s: float = Field(default=3600, gt=0)
    pid_file: str = ""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # "json": one JSON object per line (ts, level, logger, msg and the record's fields).
    log_format: Literal["text", "json"] = "text"

    def check_exposure(self) -> None:
        """Refuse to listen beyond loopback without API keys, where anyone who reaches the
        port could use every backend, unless `allow_unauthenticated` says that is meant."""
        if self.api_keys or self.allow_unauthenticated or is_loopback(self.host):
            return
        raise ConfigError(
            f"config key 'server.host': {self.host!r} is reachable from other machines but "
            "server.api_keys is empty; set api_keys, listen on 127.0.0.1, or set "
            "server.allow_unauthenticated = true (e.g. behind a proxy that authenticates)"
        )


BackendKind = Literal["ollama", "openai"]  # the registry in gateway.backends has one class each


class BackendConfig(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    kind: BackendKind
    url: str
    api_key: str = ""
    max_concurrency: int = Field(default=4, ge=1)
    max_queue: int = Field(default=64, ge=0)
    connect_timeout_s: float = Field(default=5, gt=0)
    first_byte_timeout_s: float = Field(default=300, gt=0)
    read_timeout_s: float = Field(default=120, gt=0)
    # False keeps images and video off this backend's E2B/E4B: some Ollama builds feed them
    # blank images while the 12B and 26B see (ollama#16809, #16874, #18560 on 0.34.2).
    edge_images: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises ValueError on a port that is no number)
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
            or re.search(r"\s", url)
        ):
            raise ValueError("must be an http:// or https:// URL such as http://127.0.0.1:11434")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _one_credential(self) -> BackendConfig:
        """A URL's user:password and api_key would both be an Authorization header."""
        if self.api_key and urlsplit(self.url).username is not None:
            raise ValueError(
                f"backend {self.name!r}: url carries credentials (user:password@) and api_key "
                "is set too; a request has one Authorization header, so keep only one of them"
            )
        return self


MODALITIES = Literal["text", "image", "audio", "video"]


class RoutingConfig(_Section):
    default_model: str = A26B.alias
    long_context_tokens: int = Field(default=32768, ge=1)
    output_reserve_tokens: int = Field(default=1024, ge=0)
    # Quality per active parameter first: the MoE, the dense 31B, then the smaller members.
    preference: list[str] = Field(
        default_factory=lambda: [m.alias for m in (A26B, D31B, D12B, E4B, E2B)]
    )
    image_tokens: int = Field(default=280, ge=1)


class PreprocessConfig(_Section):
    video_fps: float = Field(default=1, gt=0, le=30)
    video_max_seconds: float = Field(default=60, gt=0)
    still_max_side: int = Field(default=768, ge=64)
    audio_clip_seconds: float = Field(default=30, gt=0, le=30)
    max_audio_seconds: float = Field(default=600, gt=0)
    image_max_side: int = Field(default=1536, ge=64)
    image_max_pixels: int = Field(default=50_000_000, ge=4096)
    allow_remote_media: bool = False
    remote_max_mb: float = Field(default=32, gt=0)
    remote_timeout_s: float = Field(default=15, gt=0)
    # Per request: how many URLs, how many bytes they add up to, how many fetched at once;
    # and how many fetches run at once over all requests.
    remote_max_count: int = Field(default=8, ge=1)
    remote_max_total_mb: float = Field(default=64, gt=0)
    remote_concurrency: int = Field(default=4, ge=1)
    remote_global_concurrency: int = Field(default=16, ge=1)
    workers: int = Field(default=2, ge=1)
    decode_memory_mb: int = Field(default=2048, ge=64)
    decode_timeout_s: float = Field(default=120, gt=0)


class ModelEntry(_Section):
    """A catalogue entry: backend ids matching `match` behave as `member`."""

    match: str = Field(min_length=1)
    member: str = Field(min_length=1)
    modalities: list[MODALITIES] | None = None
    context: int | None = Field(default=None, ge=1)
    embedding: bool = False  # makes embeddings, not chat (a backend that does not say so)

    @model_validator(mode="after")
    def _new_members_say_what_they_are(self) -> ModelEntry:
        if self.member not in ALIASES and (self.modalities is None or not self.context):
            raise ValueError(
                f"{self.member!r} is not a Gemma 4 member ({', '.join(ALIASES)}), "
                "so `modalities` and `context` are required"
            )
        return self


class KeyedError(ValueError):
    """A whole-config check's failure, naming the key it is about."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class GatewayConfig(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig)
    backends: list[BackendConfig] = Field(default_factory=list)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    models: list[ModelEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _members_exist(self) -> GatewayConfig:
        """A `routing` name that looks like a family alias must be one (or a `[[models]]`
        member): `gemma4-26b-a4` would otherwise match nothing and routing would fall through
        silently. Other names are taken as concrete ids a backend may list."""
        known = {*ALIASES, *(m.member for m in self.models)}
        named = [("routing.default_model", self.routing.default_model)] + [
            (f"routing.preference[{i}]", p) for i, p in enumerate(self.routing.preference)
        ]
        for key, name in named:
            if name.lower() in EMBEDDING_ALIASES:
                raise KeyedError(
                    key, f"{name!r} is an embedding model: chat routing never picks it"
                )
            if name.lower().startswith("gemma4-") and name.lower() not in known:
                raise KeyedError(
                    key, f"{name!r} is not a member; members: {', '.join(sorted(known))}"
                )
        return self

    @field_validator("backends")
    @classmethod
    def _unique_names(cls, backends: list[BackendConfig]) -> list[BackendConfig]:
        names = [b.name for b in backends]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"backend names must be unique; repeated: {', '.join(dupes)}")
        return backends

    def media_limits(self) -> MediaLimits:
        """The preprocess section as the plain limits `preprocess` takes; one media item may
        be as large as a whole body."""
        p = self.preprocess
        return MediaLimits(
            max_media_bytes=int(self.server.max_body_mb * 2**20),
            image_max_side=p.image_max_side,
            image_max_pixels=p.image_max_pixels,
            audio_clip_seconds=p.audio_clip_seconds,
            max_audio_seconds=p.max_audio_seconds,
            video_fps=p.video_fps,
            video_max_seconds=p.video_max_seconds,
            still_max_side=p.still_max_side,
        )

    def with_default_backends(self) -> GatewayConfig:
        """The contract's defaults (Ollama and LM Studio on their usual ports) when none set."""
        if self.backends:
            return self
        backends = [BackendConfig.model_validate(b) for b in DEFAULT_BACKENDS]
        return self.model_copy(update={"backends": backends})


def find_config_file(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """The first config file in the documented lookup order, or None for pure defaults."""
    if explicit:
        return Path(explicit)
    if env.get("GATEWAY_CONFIG"):
        return Path(env["GATEWAY_CONFIG"])
    local = Path("gateway.toml")
    if local.is_file():
        return local
    xdg = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = xdg / "gateway" / "gateway.toml"
    return user if user.is_file() else None


def load_config(
    path: str | None = None, env: Mapping[str, str] | None = None
) -> tuple[GatewayConfig, Path | None]:
    """Load, apply environment overrides and validate; returns the config and its file."""
    env = os.environ if env is None else env
    file = find_config_file(path, env)
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {file} is not valid TOML: {e}") from None
    apply_env_overrides(raw, env)
    try:
        return GatewayConfig.model_validate(raw), file
    except ValidationError as e:
        raise ConfigError(describe_errors(e, file)) from None


def describe_errors(e: ValidationError, file: Path | None) -> str:
    where = f" in {file}" if file else ""
    lines = []
    for err in e.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if isinstance(keyed := (err.get("ctx") or {}).get("error"), KeyedError):
            key, msg = keyed.key, str(keyed)
        lines.append(f"config key {key!r}{where}: {msg}")
    return "\n".join(lines)


def apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """Fold `GATEWAY_<SECTION>_<KEY>` variables into the raw TOML dict, in place."""
    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name == "GATEWAY_CONFIG":
            continue
        section, _, rest = name[len(ENV_PREFIX) :].partition("_")
        section = section.lower()
        if section == "backends":
            _override_backend(raw, name, rest, value)
        elif section in GatewayConfig.model_fields and rest:
            table = raw.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"config key {section!r} must be a table")
            table[rest.lower()] = parse_env_value(value)
        # Other GATEWAY_* variables belong to someone else (e.g. a test harness): ignore.


def _override_backend(raw: dict[str, Any], var: str, rest: str, value: str) -> None:
    backends = raw.get("backends") or []
    for backend in backends:
        prefix = str(backend.get("name", "")).upper().replace("-", "_") + "_"
        if rest.startswith(prefix) and len(rest) > len(prefix):
            backend[rest[len(prefix) :].lower()] = parse_env_value(value)
            return
    known = ", ".join(str(b.get("name")) for b in backends) or "none configured"
    raise ConfigError(f"environment variable {var} names no configured backend ({known})")


def parse_env_value(value: str) -> Any:
    """`9000` -> 9000, `true` -> True, `["a"]` -> ["a"], anything else stays a string.

    >>> parse_env_value("9000"), parse_env_value("http://x:1"), parse_env_value('["k"]')
    (9000, 'http://x:1', ['k'])
    """
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value
