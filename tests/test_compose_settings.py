"""docker-compose.yml agrees with riverwatch: its environment is settings that reach the stack, the
deploy settings file, what ``dashboards build`` writes for Grafana, the README's steps and the
worker's ports and healthcheck (the file and its services on their own: test_compose.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from riverwatch.settings import Settings
from riverwatch.catalog import load_catalog

from tests.compose_kit import DASHBOARDS_BUILD, REPO, container_port, mounts
from tests.compose_kit import compose, raw  # noqa: F401 (fixtures)

NOT_SETTINGS = {"RIVERWATCH_CONFIG"}  # read by Settings.load itself, not a field


def host_path(service: dict, container_path: str) -> Path | None:
    """The repo file a container path comes from through a bind mount, if any."""
    for source, target, _ in mounts(service):
        if source.startswith(".") and (container_path == target or container_path.startswith(target + "/")):
            return REPO / source / container_path[len(target):].lstrip("/")
    return None


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


# --- the operator's path: README steps, the worker's health, Grafana's variables -----------------

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
