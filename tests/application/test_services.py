"""The local services, started and stopped for real in their own state dirs."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess

import pytest

from riverwatch.errors import ConfigError, ServiceError
from riverwatch.influx import InfluxClient, InfluxUnavailableError
from application.services import (
    find_binary,
    free_port,
    load_service_env,
    restart_influxdb,
    restart_mosquitto,
    services_down,
    services_status,
    services_up,
    start_influxdb,
    start_mosquitto,
    stop_influxdb,
    stop_mosquitto,
)

from tests.helpers import require_binaries


@pytest.fixture(autouse=True)
def _binaries():
    require_binaries("mosquitto", "influxd")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


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
    assert not accepts(urls.mqtt_port)
    assert not accepts(int(urls.influx_url.rsplit(":", 1)[1]))
    status = services_status(tmp_path)
    assert not status["mosquitto"]["running"] and status["mosquitto"]["pid"] is None
    assert not status["influxdb"]["running"]
    assert services_down(tmp_path) == {"mosquitto": False, "influxdb": False}


def test_load_service_env_without_up(tmp_path):
    assert services_status(tmp_path)["influxdb"] == {"running": False, "pid": None, "url": None}
    with pytest.raises(ServiceError, match="services_up"):
        load_service_env(tmp_path)


def test_missing_binary_says_make_bootstrap():
    with pytest.raises(ServiceError, match="make bootstrap"):
        find_binary("riverwatch-no-such-daemon")


@pytest.mark.skipif(not shutil.which("mosquitto_pub"), reason="mosquitto-clients not installed")
def test_restart_mosquitto_keeps_port_and_retained(tmp_path):
    pid, port = start_mosquitto(tmp_path)
    try:
        pub = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-r"]
        subprocess.run([*pub, "-t", "rw/test", "-m", "kept"], check=True, timeout=5)
        pid2, port2 = restart_mosquitto(tmp_path)
        assert port2 == port and pid2 != pid
        sub = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "rw/test", "-C", "1", "-W", "3"]
        out = subprocess.run(sub, check=True, timeout=5, capture_output=True, text=True).stdout
        assert out.strip() == "kept"

        assert stop_mosquitto(tmp_path)
        assert not accepts(port)
        assert restart_mosquitto(tmp_path)[1] == port  # starts a stopped broker too
    finally:
        stop_mosquitto(tmp_path)


def test_mosquitto_bad_config_reports_log_tail(tmp_path):
    with pytest.raises(ServiceError, match="no_such_option"):
        start_mosquitto(tmp_path, extra_conf="no_such_option 1")
    assert not (tmp_path / "mosquitto" / "mosquitto.pid").exists()


def test_mosquitto_port_taken(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ServiceError, match="in use"):
            start_mosquitto(tmp_path, port=s.getsockname()[1])


@pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="mosquitto_passwd not installed")
def test_mosquitto_password_and_acl(tmp_path):
    with pytest.raises(ConfigError, match="password_file"):
        start_mosquitto(tmp_path, password_file=tmp_path / "missing")
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "dev1", "s3cret"], check=True, timeout=10)
    acl.write_text("user dev1\ntopic readwrite devices/dev1/#\n")
    _, port = start_mosquitto(tmp_path, password_file=passwd, acl_file=acl)
    try:
        pub = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "devices/dev1/x", "-m", "1"]
        anonymous = subprocess.run(pub, timeout=5, capture_output=True)
        assert anonymous.returncode != 0
        subprocess.run([*pub, "-u", "dev1", "-P", "s3cret"], check=True, timeout=5)
    finally:
        stop_mosquitto(tmp_path)


def test_stopped_influxdb_is_retryable_and_restart_keeps_data(tmp_path):
    _, port = start_influxdb(tmp_path)
    client = InfluxClient(f"http://127.0.0.1:{port}", "rw")
    try:
        client.create_database()
        client.write("level,station=S1 value=1.5 1000000000")
        assert stop_influxdb(tmp_path)
        assert not client.ping()
        with pytest.raises(InfluxUnavailableError) as info:
            client.write("level,station=S1 value=2.5 2000000000")
        assert info.value.retryable and info.value.status is None

        assert restart_influxdb(tmp_path)[1] == port
        client.write("level,station=S1 value=2.5 2000000000")  # same client reconnects
        rows = client.query_rows("SELECT value FROM level")
        assert [r["value"] for r in rows] == [1.5, 2.5]
    finally:
        client.close()
        stop_influxdb(tmp_path)


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
