"""The local services, brought up and down together for real in their own state dirs."""

from __future__ import annotations

import json

import pytest

from riverwatch.errors import ServiceError
from application.processes import port_accepts
from application.services import load_service_env, services_down, services_status, services_up

from tests.helpers import require_binaries


@pytest.fixture(autouse=True)
def _binaries():
    require_binaries("mosquitto", "influxd")


def test_up_status_env_idempotent_down(tmp_path):
    try:
        urls = services_up(tmp_path)
        status = services_status(tmp_path)
        assert status["mosquitto"]["running"] and status["influxdb"]["running"]
        assert status["mosquitto"]["url"] == f"mqtt://127.0.0.1:{urls.mqtt_port}"
        assert status["influxdb"]["url"] == urls.influx_url

        env = load_service_env(tmp_path)
        assert env == urls.as_env()
        assert env["RIVERWATCH_MQTT__PORT"] == str(urls.mqtt_port)
        info = json.loads((tmp_path / "services.json").read_text())
        assert info["influxdb"]["pid"] == status["influxdb"]["pid"]

        assert services_up(tmp_path) == urls
        again = services_status(tmp_path)
        assert again["mosquitto"]["pid"] == status["mosquitto"]["pid"]
        assert again["influxdb"]["pid"] == status["influxdb"]["pid"]
    finally:
        assert services_down(tmp_path) == {"mosquitto": True, "influxdb": True}
    assert not port_accepts(urls.mqtt_port)
    assert not port_accepts(int(urls.influx_url.rsplit(":", 1)[1]))
    status = services_status(tmp_path)
    assert not status["mosquitto"]["running"] and status["mosquitto"]["pid"] is None
    assert not status["influxdb"]["running"]
    assert services_down(tmp_path) == {"mosquitto": False, "influxdb": False}


def test_load_service_env_without_up(tmp_path):
    assert services_status(tmp_path)["influxdb"] == {"running": False, "pid": None, "url": None}
    with pytest.raises(ServiceError, match="services_up"):
        load_service_env(tmp_path)
