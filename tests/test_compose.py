"""docker-compose.yml: valid Compose, and consistent with the code, the settings and its own files.

Docker is not available here, so the stack is checked statically against the Compose
Specification schema (vendored in tests/data), and its broker configuration is run for real with
the local Mosquitto and the accounts ``render-auth.sh`` generates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import socket
import subprocess
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from application.services import find_binary, free_port
from riverwatch.errors import ServiceError
from riverwatch.settings import Settings
from riverwatch.catalog import load_catalog

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
SCHEMA = json.loads((REPO / "tests" / "data" / "compose-spec.json").read_text(encoding="utf-8"))
DASHBOARDS_BUILD = "riverwatch dashboards build --config deploy/riverwatch.toml --out provisioning"
#: Bind-mount sources that are generated, not committed, and the command that writes them.
GENERATED = {"provisioning/provisioning": DASHBOARDS_BUILD, "provisioning/dashboards": DASHBOARDS_BUILD}
NOT_SETTINGS = {"RIVERWATCH_CONFIG"}  # read by Settings.load itself, not a field
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(value: object, env: dict[str, str]) -> object:
    """Compose variable interpolation (${VAR}, ${VAR:-default}, ${VAR:?error}, $$) of a document."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if op in (":-", "-"):
            return current if current or (op == "-" and current is not None) else arg
        if op in (":?", "?") and not current:
            raise AssertionError(f"${{{name}}} is required: {arg}")
        return current or ""

    return _VAR.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def referenced_variables(value: object) -> dict[str, str | None]:
    """Variables a compose document interpolates, with their operator (None, ':-', ':?', ...)."""
    if isinstance(value, dict):
        return {k: v for item in value.values() for k, v in referenced_variables(item).items()}
    if isinstance(value, list):
        return {k: v for item in value for k, v in referenced_variables(item).items()}
    if isinstance(value, str):
        return {m.group(1): m.group(2) for m in _VAR.finditer(value.replace("$$", ""))}
    return {}


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    return interpolate(raw, env_example())


def mounts(service: dict) -> list[tuple[str, str, str]]:
    """``(source, target, mode)`` of a service's short-syntax volumes."""
    out = []
    for item in service.get("volumes", []):
        source, target, *mode = item.split(":")
        out.append((source, target, mode[0] if mode else "rw"))
    return out


def host_path(service: dict, container_path: str) -> Path | None:
    """The repo file a container path comes from through a bind mount, if any."""
    for source, target, _ in mounts(service):
        if source.startswith(".") and (container_path == target or container_path.startswith(target + "/")):
            return REPO / source / container_path[len(target):].lstrip("/")
    return None


def container_port(service: dict) -> list[int]:
    return [int(str(p).rsplit(":", 1)[-1].split("/")[0]) for p in service.get("ports", [])]


def settings_from_env(env: dict[str, str], monkeypatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("RIVERWATCH_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    return Settings.load()


def clean_settings(monkeypatch, config: Path) -> Settings:
    for name in [n for n in os.environ if n.startswith("RIVERWATCH_")]:
        monkeypatch.delenv(name)
    return Settings.load(config)


# --- the file itself -------------------------------------------------------------------------------

def test_compose_file_follows_the_compose_specification(raw, compose):
    validator = jsonschema.Draft7Validator(SCHEMA)
    for document in (raw, compose):
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
        assert not errors, errors


def test_vendored_schema_cites_its_licence():
    assert "Apache License, Version 2.0" in SCHEMA["$comment"]
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_services_and_images(compose):
    services = compose["services"]
    assert set(services) == {"broker-auth", "mosquitto", "influxdb", "grafana", "riverwatch", "simulator"}
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2.0.")
    assert services["influxdb"]["image"].startswith("influxdb:2.7.")
    assert services["grafana"]["image"].startswith("grafana/grafana-oss:11.6.")
    assert services["riverwatch"]["command"] == ["riverwatch", "run"]
    assert services["simulator"]["profiles"] == ["sim"]
    assert [name for name, s in services.items() if "profiles" in s] == ["simulator"]
    for name in ("broker-auth", "riverwatch", "simulator"):
        assert services[name]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        assert services[name]["image"] == "riverwatch:local"


def test_dockerfile_builds_the_pipeline():
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11\.\d+-slim-bookworm$", text, re.M)  # pinned to a patch release
    assert "pip install ." in text
    assert 'CMD ["riverwatch", "run"]' in text
    copied = re.findall(r"^COPY (\S+)", text, re.M)
    for line in copied:
        assert (REPO / line).exists(), f"Dockerfile copies {line}, which does not exist"
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    missing = {p.removesuffix("*") for p in packages} - set(copied)
    assert not missing, f"Dockerfile does not copy the packages {sorted(missing)} that `pip install .` needs"
    assert ".venv" in (REPO / ".dockerignore").read_text(encoding="utf-8")


def test_bind_mounts_exist_or_are_generated_by_a_documented_command(compose):
    readme = (REPO / "deploy" / "README.md").read_text(encoding="utf-8")
    for name, service in compose["services"].items():
        for source, target, _ in mounts(service):
            if not source.startswith("."):
                assert source in compose["volumes"], f"{name}: volume {source} is not declared"
                continue
            relative = source.removeprefix("./")
            if relative in GENERATED:
                assert GENERATED[relative] in readme and GENERATED[relative] in COMPOSE_FILE.read_text()
            else:
                assert (REPO / relative).exists(), f"{name}: {source} does not exist"


def test_dependencies_wait_for_health(compose):
    services = compose["services"]
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"
            if spec["condition"] == "service_completed_successfully":
                assert services[target]["restart"] == "no"
    for name in ("mosquitto", "influxdb", "grafana", "riverwatch"):
        assert "healthcheck" in services[name] and services[name]["restart"] == "unless-stopped"
    assert services["riverwatch"]["depends_on"] == {"mosquitto": {"condition": "service_healthy"},
                                                    "influxdb": {"condition": "service_healthy"}}


def test_env_example_defines_exactly_what_compose_uses(raw):
    example, used = env_example(), referenced_variables(raw)
    required = {name for name, op in used.items() if op in (None, ":?", "?")}
    assert required <= set(example), f"missing from .env.example: {required - set(example)}"
    assert set(example) <= set(used), f"unused in docker-compose.yml: {set(example) - set(used)}"


def test_shell_scripts_parse_and_are_executable():
    for script, shell in (("deploy/mosquitto/entrypoint.sh", "sh"), ("deploy/mosquitto/render-auth.sh", "sh"),
                          ("deploy/influxdb/10-riverwatch-dbrp.sh", "bash")):
        path = REPO / script
        assert os.access(path, os.X_OK), f"{script} is not executable"
        subprocess.run([shell, "-n", str(path)], check=True, timeout=10)


# --- consistency with riverwatch's settings and code ---------------------------------------------------

def env_names(service: dict) -> list[str]:
    return [n for n in service.get("environment", {}) if n.startswith("RIVERWATCH_")]


def settings_field(name: str) -> bool:
    model, parts = Settings, name.removeprefix("RIVERWATCH_").lower().split("__")
    for part in parts:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return False
        model = field.annotation
    return True


def test_riverwatch_environment_names_are_settings(compose):
    for name, service in compose["services"].items():
        for env_name in env_names(service):
            assert env_name in NOT_SETTINGS or settings_field(env_name), f"{name}: {env_name} is no setting"


@pytest.mark.parametrize("service_name", ["riverwatch", "simulator", "broker-auth"])
def test_riverwatch_containers_reach_the_stack(compose, monkeypatch, service_name):
    services = compose["services"]
    service = services[service_name]
    env = dict(service["environment"])
    config = host_path(service, env["RIVERWATCH_CONFIG"])
    assert config is not None and config.is_file()
    env["RIVERWATCH_CONFIG"] = str(config)
    env.pop("RIVERWATCH_CATALOG")
    assert host_path(service, service["environment"]["RIVERWATCH_CATALOG"]).is_file()
    settings = settings_from_env(env, monkeypatch)
    assert settings.mqtt.host == "mosquitto" and settings.mqtt.port in container_port(services["mosquitto"])
    assert settings.mqtt.username == {"simulator": "riverwatch.simulator"}.get(service_name, "riverwatch")
    assert settings.mqtt.password.get_secret_value() == services["mosquitto"]["environment"]["HEALTHCHECK_PASSWORD"]
    if service_name == "riverwatch":
        url = urlsplit(settings.influx.url)
        assert url.hostname == "influxdb" and url.port in container_port(services["influxdb"])
        influx_env = services["influxdb"]["environment"]
        assert settings.influx.database == influx_env["V1_DATABASE"]
        assert settings.influx.token.get_secret_value() == influx_env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
        assert str(settings.ingest.spool_dir).startswith(str(settings.state_dir))
        volume_targets = [t for s, t, _ in mounts(service) if not s.startswith(".")]
        assert str(settings.state_dir) in volume_targets  # state and spool survive restarts


def test_deploy_settings_file_agrees_with_compose(compose, monkeypatch):
    settings = clean_settings(monkeypatch, REPO / "deploy" / "riverwatch.toml")
    env = compose["services"]["riverwatch"]["environment"]
    assert settings.mqtt.host == env["RIVERWATCH_MQTT__HOST"]
    assert str(settings.mqtt.port) == env["RIVERWATCH_MQTT__PORT"]
    assert settings.mqtt.username == env["RIVERWATCH_MQTT__USERNAME"]
    assert settings.influx.url == env["RIVERWATCH_INFLUX__URL"]
    assert settings.influx.database == env["RIVERWATCH_INFLUX__DATABASE"]
    assert str(settings.state_dir) == env["RIVERWATCH_STATE_DIR"]
    assert str(settings.ingest.spool_dir) == env["RIVERWATCH_INGEST__SPOOL_DIR"]
    assert settings.mqtt.password is None and settings.influx.token is None  # secrets stay in .env


def test_ports_match_the_services_configuration(compose):
    services = compose["services"]
    conf = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8")
    listeners = [int(p) for p in re.findall(r"^listener (\d+)", conf, re.M)]
    assert container_port(services["mosquitto"]) == listeners == [1883]
    assert "-p 1883" in services["mosquitto"]["healthcheck"]["test"][1]
    assert container_port(services["influxdb"]) == [8086]
    assert container_port(services["grafana"]) == [3000]
    assert ":3000/api/health" in services["grafana"]["healthcheck"]["test"][1]
    for published in services["influxdb"]["ports"] + services["grafana"]["ports"]:
        assert published.startswith("127.0.0.1:"), "admin interfaces stay on the host's loopback"


def test_broker_limits_match_the_local_services():
    from application.services import MOSQUITTO_MAX_INFLIGHT

    conf = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8")
    assert f"max_inflight_messages {MOSQUITTO_MAX_INFLIGHT}\n" in conf
    assert "allow_anonymous false" in conf


def test_grafana_mounts_what_dashboards_build_writes(compose, monkeypatch, tmp_path):
    from dashboards.provisioning import DASHBOARDS_PATH, write_all

    settings = clean_settings(monkeypatch, REPO / "deploy" / "riverwatch.toml")
    out = tmp_path / "provisioning"
    write_all(settings, out)
    grafana = compose["services"]["grafana"]
    targets = {}
    for source, target, mode in mounts(grafana):
        if source.startswith("./provisioning"):
            assert (tmp_path / source).is_dir(), f"dashboards build writes no {source}"
            assert mode == "ro"
            targets[target] = tmp_path / source
    assert set(targets) == {"/etc/grafana/provisioning", DASHBOARDS_PATH}
    provisioning = targets["/etc/grafana/provisioning"]
    assert {p.name for p in provisioning.iterdir()} >= {"datasources", "dashboards", "alerting"}
    assert list(targets[DASHBOARDS_PATH].rglob("*.json"))
    datasource = yaml.safe_load((provisioning / "datasources" / "riverwatch.yaml").read_text())["datasources"][0]
    assert datasource["url"] == compose["services"]["riverwatch"]["environment"]["RIVERWATCH_INFLUX__URL"]
    assert datasource["jsonData"]["dbName"] == compose["services"]["influxdb"]["environment"]["V1_DATABASE"]
    assert "${INFLUX_TOKEN}" in json.dumps(datasource) and grafana["environment"]["INFLUX_TOKEN"]
    provider = yaml.safe_load((provisioning / "dashboards" / "riverwatch.yaml").read_text())["providers"][0]
    assert provider["options"]["path"] == DASHBOARDS_PATH


# --- the broker configuration, run for real --------------------------------------------------------

def _wait_for_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def test_broker_config_and_healthcheck_work_with_rendered_accounts(compose, tmp_path):
    try:
        mosquitto = find_binary("mosquitto")
    except ServiceError as exc:
        pytest.skip(f"mosquitto not installed: {exc}")
    if shutil.which("mosquitto_pub") is None:
        pytest.skip("mosquitto_pub (mosquitto-clients) not installed")
    password = "pw-from-dot-env"
    auth = tmp_path / "auth"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERWATCH_")}
    env.update(RIVERWATCH_MQTT__PASSWORD=password, RIVERWATCH_CATALOG=str(REPO / "catalog" / "demo.toml"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    for _ in range(2):  # idempotent: the second run keeps every password
        subprocess.run(["sh", str(REPO / "deploy/mosquitto/render-auth.sh"), str(auth)], env=env, cwd=tmp_path,
                       check=True, timeout=120, capture_output=True)
    accounts = tomllib.loads((auth / "credentials.toml").read_text())["accounts"]
    assert accounts["riverwatch"] == password and (auth / "mosquitto.acl").is_file()
    assert accounts["riverwatch.simulator"] == accounts["riverwatch.healthcheck"] == password

    port = free_port()
    conf = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8")
    conf = (conf.replace("/mosquitto/data/auth/", f"{auth}/").replace("/mosquitto/data/", f"{tmp_path}/")
            .replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
            .replace("log_dest stdout", f"log_dest file {tmp_path}/mosquitto.log"))
    if os.geteuid() == 0:
        conf += "user root\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    broker = subprocess.Popen([mosquitto, "-c", str(tmp_path / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for_port(port), (tmp_path / "mosquitto.log").read_text() if (tmp_path / "mosquitto.log").exists() else ""
        check = compose["services"]["mosquitto"]["healthcheck"]["test"][1].replace("-p 1883", f"-p {port}")

        def healthcheck(secret: str) -> int:
            return subprocess.run(["sh", "-c", check], env={**env, "HEALTHCHECK_PASSWORD": secret},
                                  timeout=30, capture_output=True).returncode

        assert healthcheck(password) == 0
        assert healthcheck("wrong") != 0
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait(timeout=10)


# --- the operator's path: README steps, health, pinned images, secrets out of git ------------------

def readme_full_stack_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8").split("## Full stack with Grafana", 1)[1]
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_readme_full_stack_steps_are_the_ones_deploy_uses(compose, monkeypatch, tmp_path):
    commands = readme_full_stack_commands()
    deploy_readme = (REPO / "deploy" / "README.md").read_text(encoding="utf-8")
    builds = [c for c in commands if "dashboards build" in c]
    assert builds and all(DASHBOARDS_BUILD in c for c in builds), builds
    for command in commands:
        assert command.removeprefix(".venv/bin/") in deploy_readme, f"README step not in deploy/README.md: {command}"
    # the datasource those steps write points at a compose service, reachable from inside Grafana's container
    from dashboards.provisioning import write_all

    write_all(clean_settings(monkeypatch, REPO / "deploy" / "riverwatch.toml"), tmp_path)
    datasource = yaml.safe_load((tmp_path / "provisioning/datasources/riverwatch.yaml").read_text())["datasources"][0]
    assert urlsplit(datasource["url"]).hostname in compose["services"]
    # broker passwords: whatever renders them writes where the broker reads them
    broker_auth = host_path(compose["services"]["mosquitto"], "/mosquitto/auth")
    renders = [c for c in commands if "config render" in c]
    assert all(f"--out {broker_auth.relative_to(REPO)}" in c for c in renders), renders
    assert host_path(compose["services"]["broker-auth"], "/broker") == broker_auth


def test_generated_secrets_are_git_ignored():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    paths = [".env", "deploy/mosquitto/auth/credentials.toml", "deploy/mosquitto/auth/mosquitto.passwd",
             "provisioning/provisioning/datasources/riverwatch.yaml"]
    result = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True, text=True,
                            timeout=30)
    assert result.stdout.split() == paths


def test_every_image_is_pinned_by_version(compose):
    for name, service in compose["services"].items():
        image = service["image"]
        if "build" in service:
            assert image == "riverwatch:local"
            continue
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+", image), f"{name}: {image} is not pinned to a release"


def test_the_worker_publishes_its_feed_and_health_and_is_checked_on_readyz(compose, monkeypatch):
    settings = clean_settings(monkeypatch, REPO / "deploy" / "riverwatch.toml")
    worker = compose["services"]["riverwatch"]
    published = {int(p.rsplit(":", 1)[1]): p for p in worker["ports"]}
    assert settings.feed.port in published and settings.ingest.metrics_port in published
    assert published[settings.ingest.metrics_port].startswith("127.0.0.1:")
    assert settings.feed.host == settings.ingest.metrics_host == "0.0.0.0"  # reachable through the port mapping
    assert f"http://127.0.0.1:{settings.ingest.metrics_port}/readyz" in worker["healthcheck"]["test"][-1]


def test_the_healthcheck_command_fails_on_a_worker_that_is_not_ready(compose, tmp_path, monkeypatch):
    """The healthcheck's own command, run against a real worker whose broker and InfluxDB are absent."""
    from application.services import free_port as port_for
    from ingest.service import Service
    from riverwatch.catalog import load_catalog

    metrics_port = port_for()
    settings = Settings(state_dir=tmp_path / "state", mqtt={"host": "127.0.0.1", "port": port_for()},
                        influx={"url": f"http://127.0.0.1:{port_for()}", "database": "x", "timeout_s": 1},
                        ingest={"spool_dir": tmp_path / "spool", "metrics_port": metrics_port,
                                "detectors": ["level_threshold"]})
    check = compose["services"]["riverwatch"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    code = check[3].replace(":9108/", f":{metrics_port}/")
    svc = Service(settings, load_catalog(REPO / "catalog" / "demo.toml"))
    svc.start()
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    finally:
        svc.stop()
    assert result.returncode != 0 and "503" in result.stderr


def test_grafana_has_every_variable_the_alerting_files_interpolate(compose, monkeypatch, tmp_path):
    from dashboards.provisioning import write_all

    write_all(clean_settings(monkeypatch, REPO / "deploy" / "riverwatch.toml"), tmp_path)
    text = (tmp_path / "provisioning/alerting/riverwatch-contacts.yaml").read_text()
    wanted = set(re.findall(r"\$\{(\w+)\}", text))
    assert wanted and wanted <= set(compose["services"]["grafana"]["environment"])


def test_grafana_has_every_partner_datasource_token_and_they_name_the_catalogs_partners(compose, monkeypatch, tmp_path):
    from dashboards.provisioning import write_all

    settings = clean_settings(monkeypatch, REPO / "deploy" / "riverwatch.toml")
    write_all(settings, tmp_path)
    text = (tmp_path / "provisioning/datasources/riverwatch.yaml").read_text()
    tokens = {name for name in re.findall(r"\$\{(\w+)\}", text) if name.startswith("INFLUX_TOKEN")}
    catalog = load_catalog(settings.catalog)
    assert tokens == {"INFLUX_TOKEN", *(f"INFLUX_TOKEN_{p.id.upper()}" for p in catalog.partners)}
    assert tokens <= set(compose["services"]["grafana"]["environment"])
