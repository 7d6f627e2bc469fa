"""The local broker, started, restarted and stopped for real in its own state dir."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from riverwatch.errors import ConfigError, ServiceError
from application.local_mosquitto import MOSQUITTO_AUTOSAVE_CHANGES, restart_mosquitto, start_mosquitto, stop_mosquitto
from application.processes import port_accepts

from bench.broker_durability import kill_and_count

from tests.helpers import require_binaries


@pytest.fixture(autouse=True)
def _binaries():
    require_binaries("mosquitto")


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
        assert not port_accepts(port)
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


def test_broker_sigkill_loses_at_most_the_documented_bound(tmp_path):
    """QoS 1 messages queued for an absent worker's persistent session survive a broker SIGKILL,
    but for fewer than ``MOSQUITTO_AUTOSAVE_CHANGES`` (the shipped ``autosave_on_changes``).
    With the old ``autosave_interval 30`` (time-based) all 2,950 were lost."""
    start_mosquitto(tmp_path)
    try:
        result = kill_and_count(tmp_path, 2950)
    finally:
        stop_mosquitto(tmp_path)
    print(f"\n[broker sigkill] acknowledged={result.acknowledged} delivered={result.delivered} lost={result.lost}")
    assert result.acknowledged == 2950
    assert 0 <= result.lost < MOSQUITTO_AUTOSAVE_CHANGES


def test_the_old_time_based_save_loses_everything_acknowledged(tmp_path):
    """The control: with ``autosave_interval 30`` (seconds, what was shipped before) the same run loses
    every acknowledged message, so the test above does tell the two settings apart."""
    from bench.broker_durability import autosave_conf

    start_mosquitto(tmp_path, extra_conf=autosave_conf(None))
    try:
        result = kill_and_count(tmp_path, 500)
    finally:
        stop_mosquitto(tmp_path)
    assert result.acknowledged == 500 and result.lost == 500


def test_shipped_compose_broker_saves_on_changes():
    """The compose stack's broker saves on the same bound as the local one."""
    from tests.conftest import REPO

    conf = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text().splitlines()
    assert "autosave_on_changes true" in conf
    assert f"autosave_interval {MOSQUITTO_AUTOSAVE_CHANGES}" in conf
