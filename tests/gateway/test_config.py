"""Config: the documented keys, lookup order, env overrides, and errors that name the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gateway.config import ConfigError, GatewayConfig, load_config

EXAMPLE = Path(__file__).parents[2] / "deploy" / "gateway.example.toml"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return str(path)


def test_example_config_loads_and_matches_the_defaults() -> None:
    config, file = load_config(str(EXAMPLE), env={})
    assert file == EXAMPLE
    defaults = GatewayConfig().with_default_backends()
    assert config.server == defaults.server
    assert config.routing == defaults.routing
    assert config.backends == defaults.backends


def test_example_config_shows_every_key() -> None:
    text = EXAMPLE.read_text()
    raw = tomllib.loads(text)
    assert set(raw) | {"models"} == set(GatewayConfig.model_fields)
    assert set(raw["preprocess"]) == set(
        GatewayConfig.model_fields["preprocess"].annotation.model_fields
    )
    commented = tomllib.loads(
        "\n".join(
            line.removeprefix("# ") for line in text.split("[[models]]")[1].splitlines()
        ).join(["[[models]]", ""])
    )  # the commented example entry is valid and complete
    from gateway.config import ModelEntry

    assert set(commented["models"][0]) == set(ModelEntry.model_fields)
    assert set(raw["server"]) == set(GatewayConfig.model_fields["server"].annotation.model_fields)
    assert set(raw["routing"]) == set(GatewayConfig.model_fields["routing"].annotation.model_fields)
    from gateway.config import BackendConfig

    assert set(raw["backends"][0]) == set(BackendConfig.model_fields)


def test_no_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config, file = load_config(None, env={"XDG_CONFIG_HOME": str(tmp_path / "none")})
    assert file is None
    assert config.server.port == 8080 and config.server.host == "127.0.0.1"
    urls = [b.url for b in config.with_default_backends().backends]
    assert urls == ["http://127.0.0.1:11434", "http://127.0.0.1:1234"]


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    xdg = tmp_path / "xdg" / "gateway"
    xdg.mkdir(parents=True)
    (xdg / "gateway.toml").write_text("[server]\nport = 1001\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert load_config(None, env)[0].server.port == 1001
    (tmp_path / "gateway.toml").write_text("[server]\nport = 1002\n")
    assert load_config(None, env)[0].server.port == 1002
    (tmp_path / "env.toml").write_text("[server]\nport = 1003\n")
    env["GATEWAY_CONFIG"] = str(tmp_path / "env.toml")
    assert load_config(None, env)[0].server.port == 1003
    (tmp_path / "flag.toml").write_text("[server]\nport = 1004\n")
    assert load_config(str(tmp_path / "flag.toml"), env)[0].server.port == 1004


def test_env_overrides_every_section_and_backends(tmp_path: Path) -> None:
    path = write(tmp_path, '[[backends]]\nname = "gpu-1"\nkind = "ollama"\nurl = "http://a:1"\n')
    env = {
        "GATEWAY_SERVER_PORT": "9000",
        "GATEWAY_SERVER_API_KEYS": '["k1", "k2"]',
        "GATEWAY_SERVER_LOG_LEVEL": "debug",
        "GATEWAY_ROUTING_DEFAULT_MODEL": "gemma4-31b",
        "GATEWAY_ROUTING_PREFERENCE": '["gemma4-31b"]',
        "GATEWAY_PREPROCESS_VIDEO_MAX_SECONDS": "30",
        "GATEWAY_BACKENDS_GPU_1_URL": "http://b:2/",
        "GATEWAY_BACKENDS_GPU_1_MAX_CONCURRENCY": "8",
        "GATEWAY_INTERFACE": "CGI/1.1",  # someone else's variable: ignored
    }
    config, _ = load_config(path, env)
    assert config.server.port == 9000
    assert config.server.api_keys == ["k1", "k2"]
    assert config.server.log_level == "debug"
    assert config.routing.default_model == "gemma4-31b"
    assert config.routing.preference == ["gemma4-31b"]
    assert config.preprocess.video_max_seconds == 30
    assert config.backends[0].url == "http://b:2"
    assert config.backends[0].max_concurrency == 8


@pytest.mark.parametrize(
    ("text", "env", "named"),
    [
        ("[server]\nprot = 1\n", {}, "'server.prot'"),
        ("[sevrer]\nport = 1\n", {}, "'sevrer'"),
        ("[server]\nport = 'x'\n", {}, "'server.port'"),
        ("[server]\nport = 70000\n", {}, "'server.port'"),
        ("", {"GATEWAY_SERVER_PORT": "eighty"}, "'server.port'"),
        ("", {"GATEWAY_SERVER_POTR": "1"}, "'server.potr'"),
        ("[server]\nlog_level = 'loud'\n", {}, "'server.log_level'"),
        ('[[backends]]\nname = "x"\nkind = "vllm"\nurl = "http://a"\n', {}, "'backends.0.kind'"),
        ('[[backends]]\nname = "x"\nkind = "ollama"\nurl = "a:1"\n', {}, "'backends.0.url'"),
        ('[[backends]]\nname = "x"\nkind = "ollama"\n', {}, "'backends.0.url'"),
        (
            '[[backends]]\nname = "x"\nkind = "ollama"\nurl = "http://a"\ntimeout = 1\n',
            {},
            "'backends.0.timeout'",
        ),
        ("", {"GATEWAY_BACKENDS_NOPE_URL": "http://a"}, "GATEWAY_BACKENDS_NOPE_URL"),
        ("[routing]\ndefault = 'x'\n", {}, "'routing.default'"),
        ("[routing]\nlong_context_tokens = 0\n", {}, "'routing.long_context_tokens'"),
        ("[preprocess]\naudio_clip_seconds = 45\n", {}, "'preprocess.audio_clip_seconds'"),
        ("", {"GATEWAY_PREPROCESS_VIDEO_FPS": "0"}, "'preprocess.video_fps'"),
        ('[[models]]\nmatch = "q*"\nmember = "qwen"\n', {}, "'models.0'"),
        (
            '[[models]]\nmatch = "q*"\nmember = "gemma4-e4b"\nmodalities = ["smell"]\n',
            {},
            "'models.0.modalities.0'",
        ),
    ],
)
def test_bad_key_or_value_fails_naming_it(
    tmp_path: Path, text: str, env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config(write(tmp_path, text), env)


def test_duplicate_backend_names_fail(tmp_path: Path) -> None:
    one = '[[backends]]\nname = "a"\nkind = "ollama"\nurl = "http://a"\n'
    with pytest.raises(ConfigError, match="repeated: a"):
        load_config(write(tmp_path, one + one), {})


def test_invalid_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[server\n"), {})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.toml"), {})


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"GATEWAY_ROUTING_DEFAULT_MODEL": "gemma4-26b-a4"}, "routing.default_model"),
        ({"GATEWAY_ROUTING_PREFERENCE": '["gemma4-31b", "gemma4-e5b"]'}, "routing.preference[1]"),
    ],
)
def test_a_misspelt_member_in_routing_fails_naming_the_key(env: dict[str, str], key: str) -> None:
    # Issue 9: `gemma4-26b-a4` was accepted, and routing silently fell through.
    with pytest.raises(ConfigError, match=rf"config key '{re.escape(key)}'.*not a member"):
        load_config(None, {**env, "XDG_CONFIG_HOME": "/nonexistent"})


def test_routing_may_name_a_concrete_id_or_a_config_member(tmp_path: Path) -> None:
    file = tmp_path / "gateway.toml"
    file.write_text(
        '[routing]\ndefault_model = "gemma4-ft"\npreference = ["google/gemma-4-31b"]\n'
        '[[models]]\nmatch = "*my-ft*"\nmember = "gemma4-ft"\nmodalities = ["text"]\n'
        "context = 8192\n"
    )
    config, _ = load_config(str(file), env={})
    assert config.routing.default_model == "gemma4-ft"
