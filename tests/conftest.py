"""Session fixtures: real Mosquitto and InfluxDB, started by the same code as ``services up``."""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path

import pytest

from riverwatch.influx import InfluxClient
from application.services import (
    ServiceUrls, services_down, services_up, start_mosquitto, stop_mosquitto,
)

from tests.helpers import require_binaries

REPO = Path(__file__).resolve().parents[1]


def _require_binaries() -> None:
    require_binaries("mosquitto", "influxd")


@pytest.fixture(scope="session")
def session_services(tmp_path_factory) -> ServiceUrls:
    """Mosquitto and InfluxDB on free loopback ports for the whole session (``services up``)."""
    _require_binaries()
    state_dir = tmp_path_factory.mktemp("services")
    try:
        yield services_up(state_dir)
    finally:
        services_down(state_dir)


@pytest.fixture(scope="module")
def services(session_services: ServiceUrls, tmp_path_factory) -> ServiceUrls:
    """The session's InfluxDB with a broker of the module's own, stopped after the module.

    The broker persists sessions and queues for them, as in production. Sessions that tests leave
    behind queue every later matching message until they expire, and a broker that autosaves every
    100 changes rewrites that whole backlog each time: shared over the session, the bulk tests at the
    end ran into a broker slowed by what earlier modules left. A broker per module keeps each
    module's timing the same as when it runs alone.
    """
    broker_dir = tmp_path_factory.mktemp("broker")
    _, port = start_mosquitto(broker_dir)
    try:
        yield dataclasses.replace(session_services, mqtt_port=port)
    finally:
        stop_mosquitto(broker_dir)


@pytest.fixture
def mqtt_port(services: ServiceUrls) -> int:
    """The session broker's port on 127.0.0.1."""
    return services.mqtt_port


@pytest.fixture
def influx(services: ServiceUrls) -> InfluxClient:
    """A client on a fresh, uniquely named database, dropped afterwards."""
    client = InfluxClient(services.influx_url, f"test_{uuid.uuid4().hex[:12]}")
    client.create_database()
    try:
        yield client
    finally:
        try:
            client.drop_database()
            for row in client.query_rows("SHOW DATABASES", epoch=None):  # the partners' views (ingest/share_sink.py)
                if row["name"].startswith(client.database + "_"):
                    client.query(f'DROP DATABASE "{row["name"]}"', epoch=None)
        finally:
            client.close()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data sets (``$RIVERWATCH_DATA`` or ``../shared/data`` beside the repo)."""
    path = Path(os.environ.get("RIVERWATCH_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"data dir {path} not found: set RIVERWATCH_DATA")
    return path


def clear_retained(host: str, port: int, topic_filter: str = "rw/#", settle_s: float = 0.15) -> int:
    """Publish an empty retained message on every retained topic under ``topic_filter``.

    Retained messages (device status, warnings) outlive the test that published them and would be
    delivered to the next test's subscriber; clearing them keeps tests independent of their order.
    """
    import threading
    import time

    import paho.mqtt.client as mqtt

    retained: set[str] = set()
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"janitor-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, msg: retained.add(msg.topic) if msg.retain and msg.payload else None
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(host, port)
    client.loop_start()
    try:
        client.subscribe(topic_filter, qos=1)
        subscribed.wait(5)
        time.sleep(settle_s)  # the broker sends retained messages right after the SUBACK
        for topic in sorted(retained):
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
    return len(retained)


@pytest.fixture(autouse=True)
def _broker_left_clean(request):
    """After every test that used the shared broker, remove what it left retained there."""
    yield
    if "services" in request.fixturenames:
        urls = request.getfixturevalue("services")
        clear_retained(urls.mqtt_host, urls.mqtt_port)
