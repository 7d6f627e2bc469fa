"""Consumer: sharding by station, shared subscriptions, acks of earlier connections; on the real broker."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic, encode_json
from riverwatch.errors import ConfigError
from riverwatch.settings import REPO_ROOT, MqttSettings, Settings

from tests.helpers import wait_until as _wait_until

from ingest import fastmqtt
from ingest.consumer import Consumer, shard_of, shard_stations
from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
ALL = {st.key for st in CATALOG.stations}


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02) -> bool:
    return _wait_until(predicate, timeout, interval)


def test_shard_hash_is_stable_and_shards_partition_the_catalog():
    assert shard_of("rivertown", "gauge-hochtal", 1000) == 610  # CRC-32: the same on every machine
    for n in (1, 2, 3, 5):
        shards = [set(shard_stations(CATALOG, (i, n))) for i in range(n)]
        assert set().union(*shards) == ALL and sum(map(len, shards)) == len(ALL)


def test_a_river_network_stays_in_one_shard():
    gauges = {("rivertown", "gauge-hochtal"), ("rivertown", "gauge-grenzbruecke"), ("lacville", "gauge-lacville")}
    sondes = {("rivertown", "wq-hochtal"), ("lacville", "wq-lacville")}
    for n in (2, 3, 4, 7, 16):
        shards = [set(shard_stations(CATALOG, (i, n))) for i in range(n)]
        assert sum(gauges <= shard for shard in shards) == 1
        assert sum(sondes <= shard for shard in shards) == 1


def test_sharded_consumer_subscribes_to_its_stations_only():
    mine = shard_stations(CATALOG, (0, 2))
    consumer = Consumer(MqttSettings(), lambda item: None, stations=mine)
    filters = [topic for topic, qos in consumer.subscriptions()]
    assert filters[:len(mine)] == [data_topic(p, s) for p, s in mine]
    assert all("+" not in f and "#" not in f and not f.startswith("$share") for f in filters)
    with pytest.raises(ConfigError, match="shared_group"):
        Consumer(MqttSettings(shared_group="g"), lambda item: None, stations=mine)
    with pytest.raises(ConfigError, match="no catalog station"):
        Consumer(MqttSettings(), lambda item: None, stations=[])


def test_an_ack_from_an_earlier_connection_is_dropped():
    consumer = Consumer(MqttSettings(), lambda item: None)
    consumer.generation = 2
    consumer.ack(17, 1, generation=1)  # not connected: a real ack would be refused by paho anyway
    consumer.ack(18, 0, generation=1)  # QoS 0 needs no ack at all
    assert consumer.acks_dropped == 1


def settings(services, influx, tmp_path, name: str, **ingest) -> Settings:
    return Settings(
        state_dir=tmp_path / name,
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "session_expiry_s": 30,
              "client_id": f"{name}-{uuid.uuid4().hex[:6]}", **ingest.pop("mqtt", {})},
        influx={"url": services.influx_url, "database": influx.database, "flush_interval_s": 0.05},
        ingest={"detectors": [], "spool_dir": tmp_path / name / "spool", "summary_interval_s": 60.0, **ingest})


def publish_one_per_station(services, rounds: int = 1) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
    client.connect(services.mqtt_host, services.mqtt_port)
    client.loop_start()
    try:
        t0 = time.time() - 3600
        for i in range(rounds):
            for st in CATALOG.stations:
                q = next(iter(st.quantities))
                value = 1.0 if q != "air_pressure" else 1000.0
                unit = st.quantities[q].unit
                client.publish(data_topic(*st.key), encode_json(t0 + 60 * i, i, {q: (value, unit)}),
                               qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def run_workers(workers, services, rounds: int) -> None:
    for w in workers:
        w.start()
    try:
        assert all(w.wait_connected(10) for w in workers)
        publish_one_per_station(services, rounds)
        total = rounds * len(ALL)
        assert wait_until(lambda: sum(w.stats.received for w in workers) >= total)
        assert all(w.wait_idle(30) for w in workers)
    finally:
        for w in workers:
            w.stop()


def test_two_shards_split_the_stations_and_each_station_stays_with_one_worker(services, influx, tmp_path):
    workers = [Service(settings(services, influx, tmp_path, f"shard{i}", shard=f"{i}/2"), CATALOG)
               for i in range(2)]
    run_workers(workers, services, rounds=3)
    for i, w in enumerate(workers):
        assert set(w._last_seen) == set(shard_stations(CATALOG, (i, 2)))
        assert w.stats.received == 3 * len(w._last_seen) and w.stats.rejected == 0
    rows = influx.query_rows('SELECT count("value") FROM "reading"')
    assert rows[0]["count"] == 3 * len(ALL)


def test_a_shared_subscription_spreads_messages_and_stores_each_once(services, influx, tmp_path):
    group = f"g{uuid.uuid4().hex[:6]}"
    workers = [Service(settings(services, influx, tmp_path, f"shared{i}", mqtt={"shared_group": group}), CATALOG)
               for i in range(2)]
    run_workers(workers, services, rounds=4)
    assert sum(w.stats.received for w in workers) == 4 * len(ALL)
    assert all(w.stats.received > 0 for w in workers)
    rows = influx.query_rows('SELECT count("value") FROM "reading"')
    assert rows[0]["count"] == 4 * len(ALL)


def test_the_fast_path_falls_back_to_plain_paho_with_a_warning(monkeypatch, caplog):
    assert MqttSettings().fast_path and Consumer(MqttSettings(), lambda item: None).fast == fastmqtt.supported()
    with caplog.at_level(logging.INFO, logger="ingest.consumer"):
        off = Consumer(MqttSettings(fast_path=False), lambda item: None)
    assert not off.fast and type(off.client) is mqtt.Client and off.holds == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    monkeypatch.setattr(fastmqtt, "supported", lambda: False)  # as on a paho release it was not checked against
    with caplog.at_level(logging.WARNING, logger="ingest.consumer"):
        fallback = Consumer(MqttSettings(), lambda item: None)
    assert not fallback.fast and type(fallback.client) is mqtt.Client
    assert "falling back to the plain paho client" in caplog.text


def test_a_plain_paho_worker_stores_and_acks_everything_on_its_session(services, influx, tmp_path):
    """``mqtt.fast_path = false`` end to end: every message stored and acknowledged one by one, so a
    worker restarted on the same session gets nothing back."""
    plain = settings(services, influx, tmp_path, "plain", mqtt={"fast_path": False})
    first = Service(plain, CATALOG)
    run_workers([first], services, rounds=3)
    assert not first.consumer.fast and first.consumer.holds == 0
    assert first.stats.received == 3 * len(ALL) and first.stats.acked == first.stats.received
    assert first.consumer.acks_unsent == 0 and first.stats.rejected == 0
    second = Service(plain, CATALOG)
    second.start()
    try:
        assert second.wait_connected(10)
        marker = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv5)
        marker.connect(services.mqtt_host, services.mqtt_port)
        marker.loop_start()
        station = CATALOG.stations[0]
        quantity = next(iter(station.quantities))
        value = 1.0 if quantity != "air_pressure" else 1000.0
        marker.publish(data_topic(*station.key), encode_json(time.time() - 60, 99, {
            quantity: (value, station.quantities[quantity].unit)}), qos=1).wait_for_publish(10)
        marker.disconnect()
        marker.loop_stop()
        assert wait_until(lambda: second.stats.received >= 1) and second.wait_idle(30)
    finally:
        second.stop()
    assert second.stats.received == 1  # the marker alone: after every redelivery on the session, none came
    rows = influx.query_rows('SELECT count("value") FROM "reading"')
    assert rows[0]["count"] == 3 * len(ALL) + 1


# --- an unreachable broker: the cause is logged, and the consumer keeps retrying with back-off ------

def _failures(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ingest.consumer" and "failed (attempt" in r.getMessage()]


def _retry_until_two_failures(settings: MqttSettings, caplog) -> tuple[Consumer, list[logging.LogRecord]]:
    """Start a consumer on ``settings`` and wait for two failed attempts (the second after the back-off)."""
    consumer = Consumer(settings, lambda item: None)
    with caplog.at_level(logging.INFO, logger="ingest.consumer"):
        consumer.start()
        try:
            assert wait_until(lambda: len(_failures(caplog)) >= 2, timeout=20)
            assert not consumer.connected.is_set()
        finally:
            consumer.stop(flush_s=0)
    return consumer, _failures(caplog)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket is: nothing listens there


def test_a_refused_connection_is_logged_with_its_cause_and_retried(caplog):
    settings = MqttSettings(host="127.0.0.1", port=_closed_port(), client_id=f"refused-{uuid.uuid4().hex[:6]}")
    consumer, failures = _retry_until_two_failures(settings, caplog)
    assert failures[0].levelno == logging.ERROR and failures[1].levelno == logging.WARNING
    assert "refused" in failures[0].getMessage() and "retrying with back-off" in failures[0].getMessage()
    assert "attempt 2" in failures[1].getMessage()
    assert failures[1].created - failures[0].created >= 1  # paho waited before trying again
    assert consumer.connect_failures >= 2 and consumer.last_failure.startswith("refused")


def test_an_unresolvable_broker_name_is_logged_as_dns(caplog):
    settings = MqttSettings(host="broker.riverwatch.invalid", port=1883, client_id=f"dns-{uuid.uuid4().hex[:6]}")
    consumer, failures = _retry_until_two_failures(settings, caplog)
    assert failures[0].levelno == logging.ERROR and "DNS (cannot resolve the host)" in failures[0].getMessage()
    assert "broker.riverwatch.invalid" in failures[0].getMessage()


@pytest.fixture
def password_broker(tmp_path):
    """A real Mosquitto that accepts only ``riverwatch`` / ``right`` (no anonymous access)."""
    from application.broker_auth import hash_password
    from application.services import find_binary, free_port
    from riverwatch.errors import ServiceError

    try:
        binary = find_binary("mosquitto")
    except ServiceError as exc:
        pytest.skip(f"mosquitto not installed: {exc}")
    port = free_port()
    (tmp_path / "passwd").write_text(f"riverwatch:{hash_password('right')}\n")
    conf = (f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {tmp_path}/passwd\n"
            f"log_dest file {tmp_path}/mosquitto.log\n" + ("user root\n" if os.geteuid() == 0 else ""))
    (tmp_path / "mosquitto.conf").write_text(conf)
    broker = subprocess.Popen([binary, "-c", str(tmp_path / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _listening(port), timeout=10)
        yield port
    finally:
        broker.terminate()
        broker.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_bad_credentials_are_logged_as_auth_and_retried(password_broker, caplog):
    settings = MqttSettings(host="127.0.0.1", port=password_broker, username="riverwatch", password="wrong",
                            client_id=f"auth-{uuid.uuid4().hex[:6]}")
    consumer, failures = _retry_until_two_failures(settings, caplog)
    assert failures[0].levelno == logging.ERROR
    assert "auth: the broker refused the connection" in failures[0].getMessage()
    assert "Bad user name or password" in failures[0].getMessage() or "Not authorized" in failures[0].getMessage()
    good = Consumer(MqttSettings(**{**settings.model_dump(), "password": "right"}), lambda item: None)
    good.start()
    try:
        assert good.wait_connected(10) and good.last_failure is None  # the same broker, the right password
    finally:
        good.stop()


def test_tls_to_a_plain_listener_is_logged_as_tls(services, caplog):
    settings = MqttSettings(host=services.mqtt_host, port=services.mqtt_port, tls=True,
                            client_id=f"tls-{uuid.uuid4().hex[:6]}")
    consumer, failures = _retry_until_two_failures(settings, caplog)
    assert failures[0].levelno == logging.ERROR and "TLS: " in failures[0].getMessage()
    assert consumer.last_failure.startswith("TLS: ")
