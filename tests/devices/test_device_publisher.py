"""The reference publisher against a real Mosquitto: acknowledgements, store-and-forward, will."""

from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from devices.publisher import DevicePublisher, MultiStationPublisher, Outgoing, SeqStore
from riverwatch.contract import DATA_SUBSCRIPTION, decode_payload, parse_topic, status_topic
from riverwatch.errors import ConfigError
from application.services import restart_mosquitto, start_mosquitto, stop_mosquitto

from tests.helpers import require_binaries

T0 = 1_795_348_800.0


class Collector:
    """A plain paho subscriber collecting messages (optionally with a persistent session)."""

    def __init__(self, port: int, topic: str = DATA_SUBSCRIPTION, client_id: str | None = None) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(1, 2)
        self.topic = topic
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        self.client.connect("127.0.0.1", port, clean_start=client_id is None, properties=props)
        self.client.loop_start()
        assert self.subscribed.wait(5), "subscription not acknowledged"

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload, message.retain))

    def wait_for(self, count: int, timeout: float = 15.0, distinct: bool = False) -> list[tuple[str, bytes, bool]]:
        """The messages once ``count`` arrived (``distinct``: not counting re-sent duplicates)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = list(self.messages)
            if len(set(got) if distinct else got) >= count:
                break
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def own_broker(tmp_path):
    """A Mosquitto of this test only, so it can be stopped and restarted."""
    require_binaries("mosquitto")
    state = tmp_path / "broker"
    _, port = start_mosquitto(state)
    try:
        yield state, port
    finally:
        stop_mosquitto(state)


def test_seq_store_survives_restarts_without_repeats(tmp_path):
    path = tmp_path / "seq.json"
    store = SeqStore(path, block=10)
    assert [store.next("p", "s") for _ in range(3)] == [1, 2, 3]
    assert SeqStore(path).next("p", "s") == 11  # crash: the reserved block is skipped, never repeated
    store.save()
    assert SeqStore(path).next("p", "s") == 4  # clean close: no gap
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="corrupt"):
        SeqStore(path)


def test_publisher_checks_its_options():
    with pytest.raises(ConfigError, match="station"):
        MultiStationPublisher("127.0.0.1", 1, [], client_id="x")
    with pytest.raises(ConfigError, match="protocol"):
        MultiStationPublisher("127.0.0.1", 1, [("p", "s")], client_id="x", protocol=3)


def test_acknowledged_equals_received_mqtt5_and_311(services, tmp_path):
    sub = Collector(services.mqtt_port, "rw/v1/rivertown/gauge-pub-test/data")
    try:
        for protocol in (5, 4):
            with DevicePublisher(services.mqtt_host, services.mqtt_port, "rivertown", "gauge-pub-test",
                                 protocol=protocol, client_id=f"pub-test-{protocol}",
                                 state_dir=tmp_path) as pub:
                assert pub.wait_connected(5)
                for i in range(200):
                    pub.send(T0 + i, {"water_level": (120.0 + i, "cm")}, fmt="senml" if i % 2 else "json")
                assert pub.flush(10)
            stats = pub.snapshot()
            assert stats.published == stats.acknowledged == 200 and stats.unacknowledged == 0
            assert stats.per_station["rivertown/gauge-pub-test"].acknowledged == 200
        received = sub.wait_for(400)
        assert len(received) == 400
        seqs = [decode_payload(payload).seq for _, payload, _ in received]
        assert seqs == list(range(1, 401))  # the second publisher continues the persisted numbers
    finally:
        sub.close()


def test_store_and_forward_while_the_broker_is_away(own_broker, tmp_path):
    state, port = own_broker
    sub = Collector(port, client_id="sf-subscriber")  # persistent session: queued while we are away
    sub.close()
    stop_mosquitto(state)
    pub = DevicePublisher("127.0.0.1", port, "rivertown", "gauge-hochtal", state_dir=tmp_path / "dev").start()
    try:
        for i in range(50):
            pub.send(T0 + 60 * i, {"water_level": (100.0 + i, "cm")})
        time.sleep(0.3)
        before = pub.snapshot()
        assert not pub.connected and before.acknowledged == 0 and before.queued == 50
        restart_mosquitto(state)
        assert pub.flush(20), "queued readings were not acknowledged after the broker came back"
        for i in range(50, 60):
            pub.send(T0 + 60 * i, {"water_level": (100.0 + i, "cm")})
        assert pub.flush(10)
    finally:
        stats = pub.close()
    assert stats.acknowledged == stats.published == 60 and stats.dropped == 0
    sub = Collector(port, client_id="sf-subscriber")
    try:
        received = sub.wait_for(60)
    finally:
        sub.close()
    decoded = [decode_payload(p) for _, p, _ in received]
    assert [m.seq for m in decoded] == list(range(1, 61))
    assert [m.values[0][1] for m in decoded] == [100.0 + i for i in range(60)]
    assert SeqStore(tmp_path / "dev" / "seq.json").next("rivertown", "gauge-hochtal") == 61


def test_broker_restart_mid_stream_loses_nothing(own_broker, tmp_path):
    state, port = own_broker
    sub = Collector(port, client_id="restart-subscriber")
    pub = MultiStationPublisher("127.0.0.1", port, [("rivertown", "wx-rivertown"), ("lacville", "wx-lacville")],
                                client_id="restart-gw", state_dir=tmp_path / "gw", window=20).start()
    try:
        assert pub.wait_connected(5)
        for i in range(300):
            station = ("rivertown", "wx-rivertown") if i % 2 else ("lacville", "wx-lacville")
            pub.publish(*station, T0 + i, {"air_pressure": (101300.0 + i, "Pa")})
            if i == 150:
                restart_mosquitto(state)
        assert pub.flush(30)
        stats = pub.close()
        assert stats.acknowledged == stats.published == 300
        received = sub.wait_for(300, timeout=20, distinct=True)
    finally:
        sub.close()
    by_station: dict[str, list[int]] = {}
    for topic, payload, _ in received:
        by_station.setdefault(parse_topic(topic)[1], []).append(decode_payload(payload).seq)
    for station, seqs in by_station.items():
        first_seen = list(dict.fromkeys(seqs))  # at-least-once: a re-sent duplicate may appear
        assert first_seen == list(range(1, 151)), station


def test_last_will_and_status(own_broker, tmp_path):
    _, port = own_broker
    pub = DevicePublisher("127.0.0.1", port, "lacville", "wq-lacville").start()
    assert pub.wait_connected(5)
    topic = status_topic("lacville", "wq-lacville")
    watcher = Collector(port, topic)
    try:
        assert watcher.wait_for(1)[0][1:] == (b"online", True)
        pub.client.loop_stop()
        pub.client.socket().shutdown(socket.SHUT_RDWR)  # the device dies without DISCONNECT
        statuses = [p for _, p, _ in watcher.wait_for(2)]
        assert statuses == [b"online", b"offline"]
    finally:
        watcher.close()
        pub._stopping = True
        pub._wake.set()
    late = Collector(port, topic)  # retained: a newcomer learns the device is offline
    try:
        assert late.wait_for(1)[0][1:] == (b"offline", True)
    finally:
        late.close()


def test_full_queue_drops_oldest_loudly_and_counts(caplog, tmp_path):
    pub = MultiStationPublisher("127.0.0.1", 1, [("p", "s")], client_id="bounded", max_queued=5)
    for i in range(8):
        pub.enqueue(Outgoing("rw/v1/p/s/data", b"%d" % i, "p/s"))
    stats = pub.snapshot()
    assert stats.published == 8 and stats.dropped == 3 and stats.queued == 5
    assert stats.unacknowledged == 5
    assert [m.payload for m in pub._queue] == [b"3", b"4", b"5", b"6", b"7"]
    assert "queue full" in caplog.text


def test_unsent_messages_are_saved_and_sent_first_next_time(own_broker, tmp_path):
    state, port = own_broker
    stop_mosquitto(state)
    first = DevicePublisher("127.0.0.1", port, "rivertown", "wq-hochtal", state_dir=tmp_path).start()
    for i in range(5):
        first.send(T0 + i, {"ph": (7.0, "pH")})
    stats = first.close(timeout=0.2)
    assert stats.acknowledged == 0 and stats.unacknowledged == 5, stats
    assert len((tmp_path / "outbox.jsonl").read_text().splitlines()) == 5
    restart_mosquitto(state)
    sub = Collector(port)
    second = DevicePublisher("127.0.0.1", port, "rivertown", "wq-hochtal", state_dir=tmp_path).start()
    try:
        second.send(T0 + 5, {"ph": (7.1, "pH")})
        assert second.flush(15)
    finally:
        second.close()
    try:
        received = sub.wait_for(6)
    finally:
        sub.close()
    seqs = [decode_payload(p).seq for _, p, _ in received]
    assert seqs == [1, 2, 3, 4, 5, 6], (seqs, second.snapshot())
    assert not (tmp_path / "outbox.jsonl").exists()


def test_a_puback_with_a_failure_reason_code_is_not_counted_as_acknowledged(tmp_path):
    """MQTT 5: a message the broker refuses (ACL: not authorized) comes back with a failing PUBACK."""
    require_binaries("mosquitto")
    state = tmp_path / "broker"
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite rw/v1/rivertown/gauge-hochtal/#\ntopic read rw/#\n")
    _, port = start_mosquitto(state, acl_file=acl)
    stations = [("rivertown", "gauge-hochtal"), ("rivertown", "gauge-denied")]
    try:
        sub = Collector(port, DATA_SUBSCRIPTION)
        try:
            with MultiStationPublisher("127.0.0.1", port, stations, client_id="refused-test") as pub:
                assert pub.wait_connected(5)
                for i in range(3):
                    for partner, station in stations:
                        pub.publish(partner, station, T0 + 60 * i, {"water_level": (1.0 + i, "m")})
                assert pub.flush(10)
            stats = pub.snapshot()
            received = sub.wait_for(3, timeout=5)
        finally:
            sub.close()
    finally:
        stop_mosquitto(state)
    assert len(received) == 3  # only the permitted station's readings reached the broker
    assert stats.acknowledged == 3 and stats.dropped == 3 and stats.unacknowledged == 0
    assert stats.per_station["rivertown/gauge-denied"].acknowledged == 0
    assert stats.per_station["rivertown/gauge-denied"].dropped == 3


def test_a_day_long_outage_flushed_while_live_readings_flow_is_stored_whole(services, influx, tmp_path):
    """Issue #12 item 3 through the reference publisher's own store-and-forward: a gauge cut off for
    a day queues 1,440 readings (one a minute), restarts, flushes them while live readings go on;
    the real worker stores every one and refuses none as ``replayed``."""
    from tests.ingest.test_service import CATALOG, make_settings

    from ingest.service import Service

    station, backlog, live = ("rivertown", "gauge-hochtal"), 1440, 60
    t0 = time.time() - 86400 - 60 * live
    offline = DevicePublisher("127.0.0.1", 1, *station, state_dir=tmp_path, sync_every=50).start()
    for i in range(backlog):
        offline.send(t0 + 60 * i, {"water_level": (1.0 + i * 1e-4, "m"), "discharge": (20.0, "m3/s")})
    assert offline.close(timeout=0).unacknowledged == backlog  # the outage: all still in the outbox

    svc = Service(make_settings(services, influx, tmp_path), CATALOG)
    svc.start()
    try:
        assert svc.wait_connected(10)
        device = DevicePublisher(services.mqtt_host, services.mqtt_port, *station, state_dir=tmp_path).start()
        try:
            assert device.snapshot().outbox_loaded == backlog
            for i in range(backlog, backlog + live):  # live readings while the backlog drains
                device.send(t0 + 60 * i, {"water_level": (1.2, "m"), "discharge": (21.0, "m3/s")})
                time.sleep(0.005)
            assert device.flush(60)
        finally:
            stats = device.close()
        total = backlog + live
        assert stats.acknowledged == total
        deadline = time.monotonic() + 60
        while svc.stats.received < total and time.monotonic() < deadline:
            time.sleep(0.05)
        assert svc.wait_idle(60)
        rows = influx.query_rows('SELECT count("value") FROM "reading" WHERE "station" = \'gauge-hochtal\'')
        print(f"\n[day outage] backlog={backlog} live={live} received={svc.stats.received} "
              f"rejected={svc.stats.rejected_by_reason} stored={rows[0]['count'] if rows else 0}")
        assert svc.stats.rejected_by_reason == {}
        assert svc.stats.accepted == total and rows and rows[0]["count"] == 2 * total
    finally:
        svc.stop()
