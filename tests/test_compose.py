"""docker-compose.yml: valid Compose, its services, images, mounts, ports and scripts, and its broker
configuration run for real (its agreement with riverwatch's settings: test_compose_settings.py).

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

import jsonschema
import pytest

from application.services import find_binary, free_port
from riverwatch.errors import ServiceError

from tests.compose_kit import (COMPOSE_FILE, DASHBOARDS_BUILD, REPO, container_port, env_example, mounts,
                               referenced_variables)
from tests.compose_kit import compose, raw  # noqa: F401 (fixtures)

SCHEMA = json.loads((REPO / "tests" / "data" / "compose-spec.json").read_text(encoding="utf-8"))
#: Bind-mount sources that are generated, not committed, and the command that writes them.
GENERATED = {"provisioning/provisioning": DASHBOARDS_BUILD, "provisioning/dashboards": DASHBOARDS_BUILD}


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


# --- the services' own configuration -------------------------------------------------------------

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


# --- pinned images, secrets out of git -----------------------------------------------------------

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
