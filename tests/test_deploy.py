"""`deploy/` and `docs/operations.md`: every file parses, and every command, CLI flag, probe
path, port, config key, environment variable and metric they name exists in the code.

No container engine runs in CI (a `docker` client without a daemon, no registry reachable),
so the image is not built here; its HEALTHCHECK command is run against a real gateway and
its start without keys is run as the real `gateway up`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from gateway import cli, daemon
from gateway.config import (
    BackendConfig,
    ConfigError,
    GatewayConfig,
    PreprocessConfig,
    ServerConfig,
    load_config,
)
from gateway.embedded import free_port
from gateway.metrics import Counter, Histogram, Metrics
from gateway.server import create_app
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "gemma-gateway.service"
SYSUSERS = DEPLOY / "systemd" / "gemma-gateway.sysusers"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DOCKERIGNORE = DEPLOY / "docker" / "Dockerfile.dockerignore"
IMAGE_TOML = DEPLOY / "docker" / "gateway.toml"
COMPOSE = DEPLOY / "docker" / "compose.yaml"
K8S = DEPLOY / "kubernetes"
OPERATIONS = ROOT / "docs" / "operations.md"
SECRET_KEYS = '["a-key-from-the-secret"]'  # what the Secret's api-keys holds, for the checks
DEFAULT_SERVER = ServerConfig()
DEFAULT_PREPROCESS = PreprocessConfig()


# --- parsers ---------------------------------------------------------------------------------


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), ...]}; keys may repeat, as systemd allows."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in _joined(text, comment=("#", ";")):
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"not a key=value line in a section: {line!r}"
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), key
        current.append((key.strip(), value.strip()))
    return sections


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    out = []
    for line in _joined(text, comment=("#",)):
        instruction, _, args = line.partition(" ")
        assert instruction.isupper(), f"not an instruction: {line!r}"
        out.append((instruction, args.strip()))
    return out


def _joined(text: str, comment: tuple[str, ...]) -> Iterator[str]:
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or (line.startswith(comment) and not pending):
            continue
        if line.startswith(comment):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        yield pending + line
        pending = ""
    assert not pending, "the file ends inside a continued line"


def unit() -> dict[str, list[tuple[str, str]]]:
    return parse_unit(UNIT.read_text())


def unit_values(section: str, key: str) -> list[str]:
    return [v for k, v in unit()[section] if k == key]


def unit_value(section: str, key: str) -> str:
    values = unit_values(section, key)
    assert len(values) == 1, f"{section}.{key}: {values}"
    return values[0]


def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile(DOCKERFILE.read_text())


def docker_args(instruction: str) -> list[str]:
    (args,) = [a for i, a in dockerfile() if i == instruction]
    return list(json.loads(args))  # exec form only: a shell form would not get SIGTERM


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in dockerfile():
        if instruction == "ENV":
            env.update(kv.partition("=")[::2] for kv in shlex.split(args))
    return env


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def k8s() -> dict[str, dict[str, Any]]:
    """Every object in deploy/kubernetes by kind (one each)."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["kind"] not in objects, f"two {doc['kind']} objects"
            objects[doc["kind"]] = doc
    return objects


def container() -> dict[str, Any]:
    (c,) = k8s()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return dict(c)


# --- what the code has -------------------------------------------------------------------------


def routes() -> set[str]:
    """The router's canonical paths, with {parameters} emptied: `/v1/responses/{}`."""
    app = create_app(GatewayConfig())
    return {re.sub(r"\{[^}]*\}", "{}", r.canonical) for r in app.router.resources()}


def parse_cli(argv: list[str]) -> argparse.Namespace:
    try:
        return cli._parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"`gateway {' '.join(argv)}` is not a valid command line")


def subcommand_flags() -> dict[str, set[str]]:
    parser = cli._parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {
        name: {s for action in p._actions for s in action.option_strings}
        for name, p in sub.choices.items()
    }


def config_keys(model: type[BaseModel] = GatewayConfig, prefix: str = "") -> set[str]:
    """Every key as written in the docs: `server.host`, `backends[].url`, `models[].match`."""
    keys = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        item = getattr(annotation, "__args__", (None,))[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= config_keys(annotation, f"{prefix}{name}.")
        elif isinstance(item, type) and issubclass(item, BaseModel):
            keys |= config_keys(item, f"{prefix}{name}[].")
        else:
            keys.add(prefix + name)
    return keys


def env_var_key(name: str) -> str:
    """The config key a `GATEWAY_*` variable overrides, by config.apply_env_overrides's rules
    (a backend's NAME is any word; its KEY must be a BackendConfig field)."""
    if name == "GATEWAY_CONFIG":
        return "--config"
    section, _, rest = name.removeprefix("GATEWAY_").partition("_")
    if section == "BACKENDS":
        fields = {f for f in BackendConfig.model_fields if rest.lower().endswith("_" + f)}
        assert fields, f"{name}: no backend key ends it"
        return f"backends[].{max(fields, key=len)}"
    key = f"{section.lower()}.{rest.lower()}"
    assert key in config_keys(), f"{name} overrides no config key ({key})"
    return key


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without GATEWAY_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return {**env, **extra}


def state_dir_for(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", env["XDG_STATE_HOME"])
    return daemon.state_dir()


def mib(quantity: str) -> float:
    """`6G`, `6Gi`, `512M`, `512Mi` in MiB."""
    number, unit_ = re.fullmatch(r"(\d+)([KMG])i?", quantity).groups()  # type: ignore[union-attr]
    return int(number) * {"K": 1 / 1024, "M": 1, "G": 1024}[unit_]


def worst_case_memory_mib(config: GatewayConfig) -> float:
    p, s = config.preprocess, config.server
    return p.workers * p.decode_memory_mb + s.max_inflight_mb


def deploy_texts() -> dict[Path, str]:
    return {p: p.read_text() for p in [*DEPLOY.rglob("*"), OPERATIONS] if p.is_file()}


# --- the files parse ------------------------------------------------------------------------


def test_every_deploy_file_parses() -> None:
    files = {p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*") if p.is_file()}
    assert files >= {
        "README.md", "gateway.example.toml", "systemd/gemma-gateway.service",
        "systemd/gemma-gateway.sysusers", "docker/Dockerfile", "docker/Dockerfile.dockerignore",
        "docker/gateway.toml", "docker/compose.yaml", "kubernetes/kustomization.yaml",
        "kubernetes/configmap.yaml", "kubernetes/deployment.yaml", "kubernetes/service.yaml",
        "kubernetes/hpa.yaml", "kubernetes/pdb.yaml",
    }  # fmt: skip
    assert set(unit()) == {"Unit", "Service", "Install"}
    assert dockerfile()[0][0] == "FROM"
    assert set(compose()["services"]) == {"ollama", "gateway"}
    assert set(k8s()) == {
        "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "Kustomization",
    }  # fmt: skip
    for toml in (DEPLOY / "gateway.example.toml", IMAGE_TOML):
        GatewayConfig.model_validate(tomllib.loads(toml.read_text()))


def test_parsers_catch_what_they_should() -> None:
    assert parse_unit("[A]\nX=1 \\\n  2\nX=3\n") == {"A": [("X", "1 2"), ("X", "3")]}
    with pytest.raises(AssertionError):
        parse_unit("[A]\nnot a key\n")
    assert parse_dockerfile("FROM x\n# c\nRUN a \\\n  # inside\n  b\n") == [
        ("FROM", "x"), ("RUN", "a b"),
    ]  # fmt: skip
    with pytest.raises(AssertionError):
        parse_dockerfile("RUN a \\\n")


# --- systemd ----------------------------------------------------------------------------------


def test_the_unit_runs_gateway_up_in_the_foreground_with_a_real_config_flag() -> None:
    argv = shlex.split(unit_value("Service", "ExecStart"))
    assert Path(argv[0]).name == "gateway"
    args = parse_cli(argv[1:])
    assert args.run is cli.cmd_up and not args.detach and not args.embedded
    assert args.config == "/etc/gemma-gateway/gateway.toml"
    assert unit_value("Service", "Type") in ("exec", "simple")  # foreground, no fork


def test_the_unit_state_directory_is_where_the_gateway_writes_its_pid_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = dict(e.split("=", 1) for e in unit_values("Service", "Environment"))
    state = state_dir_for(env, monkeypatch)
    assert state == Path("/var/lib") / unit_value("Service", "StateDirectory")
    assert daemon.pid_file(GatewayConfig()).parent == state
    for name in env:
        assert not name.startswith("GATEWAY_") or env_var_key(name)


def test_the_unit_restarts_on_failure_but_not_on_a_bad_config(tmp_path: Path) -> None:
    assert unit_value("Service", "Restart") == "on-failure"
    bad = tmp_path / "gateway.toml"
    bad.write_text("[server]\nprot = 8080\n")
    status = unit_value("Service", "RestartPreventExitStatus")
    assert cli.main(["status", "--config", str(bad)]) == int(status) == 2


def test_the_unit_gives_the_drain_time_before_killing() -> None:
    assert unit_value("Service", "KillMode") == "mixed"  # SIGTERM to the gateway alone
    assert int(unit_value("Service", "TimeoutStopSec").rstrip("s")) > daemon.SHUTDOWN_GRACE_S


def test_the_unit_is_hardened_and_leaves_what_decoding_needs() -> None:
    service = dict(unit()["Service"])  # last value of each key
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices",
                "ProtectKernelTunables", "ProtectControlGroups", "RestrictSUIDSGID"):  # fmt: skip
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert "AF_UNIX" in service["RestrictAddressFamilies"].split()  # the forkserver's socket
    filters = unit_values("Service", "SystemCallFilter")
    assert "@system-service" in filters  # fork, clone, setrlimit
    assert not any(f.startswith("~") and "@resources" in f for f in filters)  # setrlimit
    assert "MemoryDenyWriteExecute" not in service
    assert mib(service["MemoryMax"]) > worst_case_memory_mib(GatewayConfig())


def test_the_unit_user_is_the_one_sysusers_creates() -> None:
    user = unit_value("Service", "User")
    assert user == unit_value("Service", "Group") == "gemma-gateway"
    lines = [ln.split() for ln in SYSUSERS.read_text().splitlines() if ln and ln[0] != "#"]
    assert [(f[0], f[1]) for f in lines] == [("u", user)]


# --- Dockerfile ---------------------------------------------------------------------------------


def test_the_image_is_slim_non_root_and_installs_the_package_with_pip() -> None:
    instructions = dockerfile()
    base = instructions[0][1]
    assert re.fullmatch(r"python:3\.1[12]-slim", base), base
    (user,) = [a for i, a in instructions if i == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert any(i == "RUN" and re.search(r"\bpip install \.(\s|$)", a) for i, a in instructions)


def test_the_image_copies_what_exists_and_the_build_context_lets_it_through() -> None:
    ignore = DOCKERIGNORE.read_text().splitlines()
    for instruction, args in dockerfile():
        if instruction != "COPY":
            continue
        *sources, _ = shlex.split(args)
        for source in sources:
            assert (ROOT / source).exists(), source
            assert f"!{source.rstrip('/')}" in {ln.rstrip("/") for ln in ignore}, source


def test_the_image_command_is_gateway_up_with_the_config_it_carries() -> None:
    entrypoint, cmd = docker_args("ENTRYPOINT"), docker_args("CMD")
    assert entrypoint == ["gateway"]
    args = parse_cli(cmd)
    assert args.run is cli.cmd_up and not args.detach
    copied = [shlex.split(a)[-1] for i, a in dockerfile() if i == "COPY"]
    assert args.config == docker_env()["GATEWAY_CONFIG"] and args.config in copied


def test_the_image_ports_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    (expose,) = [a for i, a in dockerfile() if i == "EXPOSE"]
    env = docker_env()
    config, _ = load_config(str(IMAGE_TOML), env)
    assert int(expose) == int(env["GATEWAY_SERVER_PORT"]) == config.server.port
    assert config.server.port == DEFAULT_SERVER.port
    assert config.server.host == "0.0.0.0"
    state = state_dir_for(env, monkeypatch)
    assert any(i == "RUN" and str(state) in a for i, a in dockerfile())  # created for the user
    for name in env:
        assert not name.startswith("GATEWAY_") or env_var_key(name)


def test_the_image_refuses_to_start_without_keys_naming_the_key(tmp_path: Path) -> None:
    """The image sets no allow_unauthenticated: `gateway up` (the real command, the image's
    environment) exits 2 before binding anything, naming server.host."""
    env = clean_env(**{**docker_env(), "XDG_STATE_HOME": str(tmp_path)})
    gateway = Path(sys.executable).with_name("gateway")
    done = subprocess.run(
        [str(gateway), *docker_args("CMD")[:1], "--config", str(IMAGE_TOML)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "server.host" in done.stderr and "api_keys" in done.stderr
    assert not (tmp_path / "gemma-gateway" / "gateway.pid").exists()


def healthcheck_argv() -> list[str]:
    (args,) = [a for i, a in dockerfile() if i == "HEALTHCHECK"]
    options, _, command = args.partition("CMD ")
    assert "--interval" in options and "--timeout" in options
    argv = list(json.loads(command))
    assert argv[0] == "python" and argv[1] == "-c"  # python's urllib: no curl in slim
    return [sys.executable, *argv[1:]]


async def test_the_healthcheck_command_passes_on_a_gateway_and_fails_without_one(
    make_gateway: MakeGateway,
) -> None:
    argv = healthcheck_argv()
    path = re.search(r"http://127\.0\.0\.1:%s(/\w+)", argv[-1]).group(1)  # type: ignore[union-attr]
    assert path == "/healthz" and path in routes()
    async with OllamaEmulator([OllamaModel("gemma4:e4b")]) as emu:
        server = await make_gateway(backend("ollama", "ollama", emu.url))
        env = clean_env(GATEWAY_SERVER_PORT=str(server.port))
        alive = await asyncio.to_thread(run_quietly, argv, env)  # the loop serves meanwhile
        assert alive.returncode == 0, alive.stderr
    dead = await asyncio.to_thread(
        run_quietly, argv, clean_env(GATEWAY_SERVER_PORT=str(free_port()))
    )
    assert dead.returncode != 0


def run_quietly(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, env=env, capture_output=True, timeout=30)


# --- compose ------------------------------------------------------------------------------------


def compose_env() -> dict[str, str]:
    env = compose()["services"]["gateway"]["environment"]
    return {k: str(v) for k, v in env.items()}


def test_compose_points_the_gateway_at_its_ollama_service_through_the_env_override() -> None:
    services = compose()["services"]
    assert services["ollama"]["image"].split(":")[0] == "ollama/ollama"
    volume, _, target = services["ollama"]["volumes"][0].partition(":")
    assert volume in compose()["volumes"] and target == "/root/.ollama"
    env = compose_env()
    config, _ = load_config(str(IMAGE_TOML), {**docker_env(), **env})
    (ollama,) = config.backends
    assert ollama.url == env["GATEWAY_BACKENDS_OLLAMA_URL"] == "http://ollama:11434"
    assert env_var_key("GATEWAY_BACKENDS_OLLAMA_URL") == "backends[].url"
    config.server.check_exposure()  # allowed explicitly, as it publishes on loopback only
    assert config.server.allow_unauthenticated and not config.server.api_keys
    assert services["gateway"]["ports"] == [f"127.0.0.1:{config.server.port}:{config.server.port}"]


def test_compose_builds_the_dockerfile_and_mounts_the_config_where_up_reads_it() -> None:
    gateway = compose()["services"]["gateway"]
    build = gateway["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    source, target, mode = gateway["volumes"][0].split(":")
    assert (COMPOSE.parent / source).resolve() == IMAGE_TOML and mode == "ro"
    assert target == parse_cli(docker_args("CMD")).config
    tmpfs = {t.split(":")[0] for t in gateway["tmpfs"]}
    assert gateway["read_only"] and {"/tmp", str(state_dir_default(docker_env()))} <= tmpfs
    assert int(gateway["stop_grace_period"].rstrip("s")) > daemon.SHUTDOWN_GRACE_S


def state_dir_default(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / daemon.state_dir().name


# --- Kubernetes ---------------------------------------------------------------------------------


def k8s_env() -> dict[str, str]:
    """The container's environment, the Secret's keys standing in for secretKeyRef."""
    env = {}
    for e in container()["env"]:
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == ("gemma-gateway", "api-keys")
            env[e["name"]] = SECRET_KEYS
    return env


def k8s_config(tmp_path: Path) -> GatewayConfig:
    toml = tmp_path / "gateway.toml"
    toml.write_text(k8s()["ConfigMap"]["data"]["gateway.toml"])
    config, _ = load_config(str(toml), k8s_env())
    return config


def test_k8s_config_map_is_a_valid_config_with_keys_from_the_secret(tmp_path: Path) -> None:
    config = k8s_config(tmp_path)
    assert config.server.host == "0.0.0.0" and config.server.api_keys == json.loads(SECRET_KEYS)
    config.server.check_exposure()
    named = {env_var_key(name) for name in k8s_env() if name.startswith("GATEWAY_")}
    assert named == {"--config", "server.api_keys"}


def test_k8s_container_runs_gateway_up_with_the_mounted_config() -> None:
    c = container()
    args = parse_cli(c["args"])
    assert args.run is cli.cmd_up and not args.detach
    assert args.config == k8s_env()["GATEWAY_CONFIG"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in k8s()["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    config_volume = volumes[mounts[str(Path(args.config).parent)]]["configMap"]
    assert config_volume["name"] == k8s()["ConfigMap"]["metadata"]["name"]
    assert config_volume["items"] == [{"key": "gateway.toml", "path": Path(args.config).name}]


def test_k8s_probes_ask_paths_the_gateway_serves_on_its_port(tmp_path: Path) -> None:
    c, served = container(), routes()
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["path"] in served
        assert c[probe]["httpGet"]["port"] in ports
    assert ports["http"] == k8s_config(tmp_path).server.port
    service = k8s()["Service"]["spec"]
    assert service["ports"][0]["targetPort"] == "http"


def test_k8s_pod_is_non_root_read_only_with_writable_tmp_and_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pod = k8s()["Deployment"]["spec"]["template"]["spec"]
    c = container()
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    assert c["securityContext"]["readOnlyRootFilesystem"]
    assert not c["securityContext"]["allowPrivilegeEscalation"]
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    writable = {m["mountPath"] for m in c["volumeMounts"] if m["name"] in empty}
    assert {"/tmp", str(state_dir_for(k8s_env(), monkeypatch))} <= writable
    assert pod["terminationGracePeriodSeconds"] > daemon.SHUTDOWN_GRACE_S + 5  # + preStop


def test_k8s_memory_limit_holds_the_configured_worst_case(tmp_path: Path) -> None:
    limit = container()["resources"]["limits"]["memory"]
    assert mib(limit) > worst_case_memory_mib(k8s_config(tmp_path))


def test_k8s_objects_point_at_each_other() -> None:
    objects = k8s()
    deployment = objects["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert objects["Service"]["spec"]["selector"] == labels
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] < hpa["minReplicas"]
    listed = set(objects["Kustomization"]["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_k8s_affinity_lasts_as_long_as_a_kept_response(tmp_path: Path) -> None:
    service = k8s()["Service"]["spec"]
    assert service["sessionAffinity"] == "ClientIP"
    timeout = service["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"]
    assert timeout == k8s_config(tmp_path).server.responses_store_ttl_s
    assert timeout == DEFAULT_SERVER.responses_store_ttl_s


# --- what the docs and comments name ------------------------------------------------------------

KEY_MENTION = re.compile(r"(?<![\w/.])((?:server|routing|preprocess)\.\w+|backends\[\]\.\w+)")
ENV_MENTION = re.compile(r"\bGATEWAY_[A-Z0-9_]*[A-Z0-9]\b")
CLI_MENTION = re.compile(r"\bgateway ((?:up|down|status|models|route)\b[^`\n|)]*)")
PATH_MENTION = re.compile(r"`(?:GET |POST )?(/(?:v1|api|healthz|readyz|metrics)[\w/{}.-]*)`")


def test_every_config_key_named_exists() -> None:
    known = config_keys()
    for path, text in deploy_texts().items():
        for key in KEY_MENTION.findall(text):
            assert key in known, f"{path.name}: {key}"


def test_every_gateway_env_var_named_overrides_a_config_key() -> None:
    for path, text in deploy_texts().items():
        for name in ENV_MENTION.findall(text):
            assert env_var_key(name), f"{path.name}: {name}"


def test_env_var_rules_match_the_config_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert env_var_key("GATEWAY_SERVER_ALLOW_UNAUTHENTICATED") == "server.allow_unauthenticated"
    with pytest.raises(AssertionError):
        env_var_key("GATEWAY_SERVER_NO_SUCH_KEY")
    monkeypatch.chdir(tmp_path)  # no ./gateway.toml, no user config: the built-in backends
    env = {"XDG_CONFIG_HOME": str(tmp_path), "GATEWAY_BACKENDS_OLLAMA_URL": "http://x:1"}
    with pytest.raises(ConfigError, match="names no configured backend"):
        load_config(None, env)  # why docker/gateway.toml declares the backend it overrides


def test_every_gateway_command_named_is_a_real_command_line() -> None:
    flags = subcommand_flags()
    for path, text in deploy_texts().items():
        for command in CLI_MENTION.findall(text):
            sub, *rest = shlex.split(command.replace("\\", ""))
            named = {w.split("=")[0] for w in rest if w.startswith("--")}
            assert named <= flags[sub], f"{path.name}: gateway {command}"


def test_every_endpoint_named_in_the_docs_is_served() -> None:
    served = routes()
    for path, text in deploy_texts().items():
        for endpoint in PATH_MENTION.findall(text):
            assert re.sub(r"\{[^}]*\}", "{}", endpoint) in served, f"{path.name}: {endpoint}"


def promql_blocks() -> list[str]:
    text = OPERATIONS.read_text()
    (block,) = re.findall(r"```promql\n(.*?)```", text, re.S)
    queries = [q for q in re.split(r"\n(?=#)", block) if q.strip()]
    assert len(queries) >= 3
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return [*queries, *re.findall(r"`([^`]*gateway_\w+[^`]*)`", prose)]


async def scraped_labels(make_gateway: MakeGateway) -> dict[str, set[str]]:
    """Every metric family a live gateway serves, with its label names (gauges read here,
    counters and histograms from the registry's definitions)."""
    async with OllamaEmulator([OllamaModel("gemma4:e4b")]) as emu:
        server = await make_gateway(backend("ollama", "ollama", emu.url))
        assert (await post_chat(server, {"messages": [{"role": "user", "content": "hi"}]}))[
            0
        ] == 200
        async with ClientSession() as s, s.get(server.make_url("/metrics")) as r:
            text = await r.text()
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        found = labels.setdefault(family.name, set())
        for sample in family.samples:
            labels.setdefault(sample.name, found).update(sample.labels)
    for m in vars(Metrics()).values():
        if isinstance(m, Counter | Histogram):
            names = [m.name, m.name.removesuffix("_total")]
            names += [f"{m.name}_{s}" for s in ("bucket", "sum", "count")]
            for name in names:
                labels.setdefault(name, set()).update({*m.labels, "le"})
    return labels


async def test_the_promql_in_the_docs_uses_metrics_and_labels_the_gateway_serves(
    make_gateway: MakeGateway,
) -> None:
    labels = await scraped_labels(make_gateway)
    for query in promql_blocks():
        query = re.sub(r"^#.*$", "", query, flags=re.M)
        used = re.findall(r"\b(gateway_\w+)", query)
        assert used, query
        available = set().union(*(labels[name] for name in used))  # KeyError: no such metric
        for selector in re.findall(r"gateway_\w+\{([^}]*)\}", query):
            assert {kv.split("=")[0].strip() for kv in selector.split(",")} <= available
        for grouping in re.findall(r"\bby \(([^)]*)\)", query):
            assert {g.strip() for g in grouping.split(",")} <= available, query


def test_the_operations_doc_names_the_per_replica_state() -> None:
    text = OPERATIONS.read_text()
    for phrase in ("previous_response_id", "gateway/fronts/responses.py", "**400**",
                   "session affinity", "inventory", "per replica"):  # fmt: skip
        assert phrase in text, phrase


def test_the_defaults_the_docs_quote_are_the_defaults() -> None:
    defaults = {"server": DEFAULT_SERVER, "preprocess": DEFAULT_PREPROCESS}
    quoted = re.findall(r"`(server|preprocess)\.(\w+)` =\s+(\d+)", OPERATIONS.read_text())
    assert len(quoted) >= 3
    for section, key, value in quoted:
        assert getattr(defaults[section], key) == int(value), f"{section}.{key}"
