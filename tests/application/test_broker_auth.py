"""Partner isolation enforced by the real Mosquitto with the rendered password and ACL files."""

from __future__ import annotations

import queue
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from application import broker_auth, services
from ingest.consumer import Consumer
from riverwatch.catalog import load_catalog
from riverwatch.contract import data_topic
from riverwatch.settings import REPO_ROOT, MqttSettings

from tests.helpers import wait_until

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
SHARD = "shard-1"  # a second worker's account, riverwatch.shard-1


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory):
    state = tmp_path_factory.mktemp("secured")
    files = broker_auth.render(CATALOG, state / "broker", services=[SHARD])
    _, port = services.start_mosquitto(state, password_file=files["passwd"], acl_file=files["acl"])
    creds = broker_auth.load_or_create_credentials(CATALOG, files["credentials"], services=[SHARD])
    try:
        yield port, creds
    finally:
        services.stop_mosquitto(state)


class Session:
    """A connected MQTT 5 client that records PUBACK reason codes and received messages."""

    def __init__(self, port: int, username: str, password: str, client_id: str = "", clean_start: bool = True):
        self.acks: dict[int, int] = {}
        self.acked = threading.Condition()
        self.received: queue.Queue = queue.Queue()
        self.connected = threading.Event()
        self.reason = None
        self.disconnects = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda c, u, msg: self.received.put((msg.topic, msg.payload))
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean_start else 600
        self.client.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
        self.client.loop_start()
        self.connected.wait(5)

    def _on_connect(self, client, userdata, flags, reason, properties):
        self.reason = reason
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason, properties):
        self.disconnects += 1

    def _on_publish(self, client, userdata, mid, reason, properties):
        with self.acked:
            self.acks[mid] = reason.value
            self.acked.notify_all()

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        info = self.client.publish(topic, payload, qos=1)
        with self.acked:
            assert self.acked.wait_for(lambda: info.mid in self.acks, timeout=5)
            return self.acks[info.mid]

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


NOT_AUTHORIZED = 135


def test_device_publishes_only_into_its_own_topics(secured_broker):
    port, creds = secured_broker
    user = broker_auth.device_account("rivertown", "gauge-hochtal")
    device = Session(port, user, creds[user])
    try:
        assert device.reason == 0
        assert device.publish("rw/v1/rivertown/gauge-hochtal/data") < 128  # 0 or 16 "no subscribers"
        assert device.publish("rw/v1/lacville/gauge-lacville/data") == NOT_AUTHORIZED
        assert device.publish("rw/v1/rivertown/gauge-grenzbruecke/data") == NOT_AUTHORIZED
        assert device.publish("rw/v1/rivertown/gauge-hochtal/warning/flood") == NOT_AUTHORIZED
    finally:
        device.close()


def test_wrong_password_is_refused(secured_broker):
    port, _ = secured_broker
    intruder = Session(port, broker_auth.device_account("lacville", "wq-lacville"), "guess")
    try:
        assert intruder.reason is not None and intruder.reason.is_failure
    finally:
        intruder.close()


def test_partner_reads_what_is_shared_with_it_only(secured_broker, tmp_path):
    port, creds = secured_broker
    reader = Session(port, broker_auth.partner_account("lacville"), creds["partner.lacville"])
    pipeline = Session(port, broker_auth.SERVICE_ACCOUNT, creds["riverwatch"])
    try:
        reader.client.subscribe("rw/v1/#", qos=1)
        pipeline.client.subscribe("rw/v1/#", qos=1)
        time.sleep(0.3)  # let both subscriptions settle before publishing
        assert pipeline.publish("rw/v1/rivertown/gauge-hochtal/warning/flood", b"shared") < 128
        topic, payload = reader.received.get(timeout=5)
        assert (topic, payload) == ("rw/v1/rivertown/gauge-hochtal/warning/flood", b"shared")
        drill = "rw/v1/_exercise/d1/rivertown/gauge-hochtal/warning/flood"  # a joint drill's warning too
        assert pipeline.publish(drill, b"exercise") < 128
        assert reader.received.get(timeout=5) == (drill, b"exercise")
    finally:
        reader.close()
        pipeline.close()


def test_rendering_again_keeps_passwords(tmp_path):
    first = broker_auth.render(CATALOG, tmp_path)
    creds = broker_auth.load_or_create_credentials(CATALOG, first["credentials"])
    broker_auth.render(CATALOG, tmp_path)
    assert broker_auth.load_or_create_credentials(CATALOG, first["credentials"]) == creds
    assert oct(first["passwd"].stat().st_mode & 0o777) == "0o600"


def test_the_pipeline_password_comes_from_its_settings(tmp_path):
    files = broker_auth.render(CATALOG, tmp_path, service_password='s3cret "quoted"')
    creds = broker_auth.load_or_create_credentials(CATALOG, files["credentials"])
    assert creds["riverwatch"] == 's3cret "quoted"'
    assert broker_auth.render(CATALOG, tmp_path) and \
        broker_auth.load_or_create_credentials(CATALOG, files["credentials"])["riverwatch"] == 's3cret "quoted"'


# --- issue 12, item 1: client ids are bound to accounts --------------------------------------------

WORKER_CLIENT_ID = "riverwatch-ingest"  # the sample config's mqtt.client_id


def worker(port: int, creds: dict, received: list, username: str = broker_auth.SERVICE_ACCOUNT) -> Consumer:
    """The real ingest consumer with a persistent session, as `riverwatch run` connects."""
    settings = MqttSettings(host="127.0.0.1", port=port, username=username, password=creds[username],
                            client_id=WORKER_CLIENT_ID, session_expiry_s=600)
    consumer = Consumer(settings, received.append)
    consumer.start()
    assert consumer.wait_connected(10)
    return consumer


def intruders(creds: dict) -> list[str]:
    """Accounts that must not get a worker's or a device's session: devices and partners."""
    return [broker_auth.device_account("rivertown", "gauge-hochtal"), broker_auth.device_account("lacville", "wq-lacville"),
            broker_auth.partner_account("lacville"), broker_auth.partner_account("rivertown")]


def test_no_device_or_partner_can_take_over_a_workers_or_a_devices_client_id(secured_broker):
    port, creds = secured_broker
    main, shard = worker(port, creds, []), worker(port, creds, [], broker_auth.service_account(SHARD))
    victim_name = broker_auth.device_account("lacville", "gauge-lacville")
    victim = Session(port, victim_name, creds[victim_name], client_id=victim_name)
    attempts = []
    try:
        for name in intruders(creds):
            for client_id in (WORKER_CLIENT_ID, broker_auth.SERVICE_ACCOUNT, broker_auth.service_account(SHARD),
                              victim_name):
                attempts.append(Session(port, name, creds[name], client_id=client_id, clean_start=False))
        time.sleep(1.0)  # a takeover disconnects the old connection at once; give it time to show
        print(f"\n[takeover] {len(attempts)} attempts; worker disconnects {main.disconnects}, shard worker "
              f"{shard.disconnects}, device {victim.disconnects}")
        assert (main.disconnects, shard.disconnects, victim.disconnects) == (0, 0, 0)
        assert main.connected.is_set() and shard.connected.is_set() and victim.client.is_connected()
        # two workers, each on its own account, stand side by side with the same configured client id
        assert main.connects == shard.connects == 1
    finally:
        for session in attempts + [victim]:
            session.close()
        main.stop()
        shard.stop()


def test_a_workers_offline_session_survives_intruders_using_its_client_id(secured_broker):
    port, creds = secured_broker
    first: list = []
    main = worker(port, creds, first)
    main.stop()  # the session (subscriptions, queue) stays on the broker for session_expiry_s
    device_name = broker_auth.device_account("rivertown", "gauge-hochtal")
    device = Session(port, device_name, creds[device_name], client_id=device_name)
    sent = [f"queued-{i}".encode() for i in range(20)]
    try:
        for payload in sent:
            assert device.publish(data_topic("rivertown", "gauge-hochtal"), payload) == 0  # 0: a subscriber
        for name in intruders(creds):  # clean start under the worker's ids would discard its session
            for client_id in (WORKER_CLIENT_ID, broker_auth.SERVICE_ACCOUNT):
                Session(port, name, creds[name], client_id=client_id, clean_start=True).close()
    finally:
        device.close()
    received: list = []
    again = worker(port, creds, received)
    try:
        wait_until(lambda: len(received) >= len(sent), timeout=10)
        payloads = [item[1] for item in received]
        print(f"\n[offline session] queued {len(sent)}, delivered after intruders {len(payloads)}")
        assert payloads == sent
    finally:
        again.stop()


# --- issue 13: gateways publishing for several stations work under the rendered ACL ----------------

GATEWAY_CATALOG_TEXT = (REPO_ROOT / "catalog" / "demo.toml").read_text(encoding="utf-8") + """
[[gateways]]
id = "logger-grenzbach"
partner = "rivertown"
stations = ["gauge-hochtal", "gauge-grenzbruecke"]
"""


@pytest.fixture(scope="module")
def gateway_broker(tmp_path_factory):
    state = tmp_path_factory.mktemp("gateway")
    (state / "catalog.toml").write_text(GATEWAY_CATALOG_TEXT, encoding="utf-8")
    catalog = load_catalog(state / "catalog.toml")
    files = broker_auth.render(catalog, state / "broker")
    _, port = services.start_mosquitto(state, password_file=files["passwd"], acl_file=files["acl"])
    try:
        yield port, broker_auth.load_or_create_credentials(catalog, files["credentials"])
    finally:
        services.stop_mosquitto(state)


def test_the_rendered_acl_gives_a_gateway_its_stations_and_its_own_status_only(gateway_broker):
    from devices.publisher import MultiStationPublisher
    from riverwatch.contract import status_topic

    port, creds = gateway_broker
    account = broker_auth.gateway_account("rivertown", "logger-grenzbach")
    assert account in creds and account not in broker_auth.accounts(CATALOG)  # rendered from the catalog
    received: list = []
    pipeline = worker(port, creds, received)
    served = [("rivertown", "gauge-hochtal"), ("rivertown", "gauge-grenzbruecke")]
    gateway = MultiStationPublisher("127.0.0.1", port, served, client_id=account, username=account,
                                    password=creds[account], will_topic=status_topic("rivertown", "logger-grenzbach"))
    try:
        gateway.start()
        assert gateway.wait_connected(10)
        for i in range(5):
            for partner, station in served:
                gateway.publish(partner, station, 1.8e9 + 60 * i, {"water_level": (1.0 + i, "m")})
        assert gateway.flush(10)
        stats = gateway.snapshot()
        print(f"\n[gateway] {stats.acknowledged} acknowledged, {stats.dropped} refused by the broker")
        assert (stats.acknowledged, stats.dropped) == (10, 0)
        wait_until(lambda: sum(item[0].endswith("/data") for item in received) >= 10, timeout=10)
        topics = [item[0] for item in received]
        assert topics.count(data_topic("rivertown", "gauge-hochtal")) == 5
        assert topics.count(data_topic("rivertown", "gauge-grenzbruecke")) == 5
        assert status_topic("rivertown", "logger-grenzbach") in topics  # its own status: its will's topic
    finally:
        gateway.close(timeout=5)
        pipeline.stop()
    # a station it does not serve (another partner's, or its own partner's) stays closed to it
    probe = Session(port, account, creds[account])
    try:
        assert probe.reason == 0
        assert probe.publish(data_topic("lacville", "gauge-lacville")) == NOT_AUTHORIZED
        assert probe.publish(data_topic("rivertown", "wx-rivertown")) == NOT_AUTHORIZED
        assert probe.publish(status_topic("rivertown", "other-logger")) == NOT_AUTHORIZED
    finally:
        probe.close()


def test_only_a_partners_operators_may_acknowledge_on_its_ack_topic(secured_broker):
    port, creds = secured_broker
    ack = "rw/v1/lacville/ack/rivertown.gauge-hochtal.flood.1"
    lac_op = Session(port, broker_auth.operator_account("lacville"), creds["op.lacville"])
    town_op = Session(port, broker_auth.operator_account("rivertown"), creds["op.rivertown"])
    lac_reader = Session(port, broker_auth.partner_account("lacville"), creds["partner.lacville"])
    device = broker_auth.device_account("lacville", "gauge-lacville")
    lac_device = Session(port, device, creds[device])
    try:
        assert lac_op.reason == 0 and town_op.reason == 0
        assert lac_op.publish(ack, b'{"by": "jean", "role": "operator"}') < 128
        assert town_op.publish(ack, b'{"by": "anna", "role": "operator"}') == NOT_AUTHORIZED
        assert lac_reader.publish(ack) == NOT_AUTHORIZED
        assert lac_device.publish(ack) == NOT_AUTHORIZED
        # an operator writes nothing else: not a warning, not another partner's data
        assert lac_op.publish("rw/v1/lacville/gauge-lacville/warning/flood") == NOT_AUTHORIZED
        assert lac_op.publish("rw/v1/lacville/gauge-lacville/data") == NOT_AUTHORIZED
        assert lac_op.publish("rw/v1/lacville/ack/a/b") == NOT_AUTHORIZED
    finally:
        for s in (lac_op, town_op, lac_reader, lac_device):
            s.close()


def test_an_agreement_without_raw_data_keeps_the_partner_off_the_raw_topics(tmp_path):
    """Rivertown shares only flood warnings with Lacville, aggregated data and no CAP: the broker
    delivers Lacville only what is agreed. (Mosquitto 2.0 grants a SUBACK for a topic the ACL does
    not let the account read and then delivers nothing on it: the ACL is checked per message.)"""
    from tests.riverwatch.test_sharing import AGREEMENT, with_sharing

    catalog = with_sharing(AGREEMENT)
    files = broker_auth.render(catalog, tmp_path / "broker")
    _, port = services.start_mosquitto(tmp_path, password_file=files["passwd"], acl_file=files["acl"])
    creds = broker_auth.load_or_create_credentials(catalog, files["credentials"])
    reader = Session(port, broker_auth.partner_account("lacville"), creds["partner.lacville"])
    pipeline = Session(port, broker_auth.SERVICE_ACCOUNT, creds["riverwatch"])
    try:
        reader.client.subscribe([("rw/v1/rivertown/gauge-hochtal/data", 1), ("rw/v1/#", 1)])
        pipeline.client.subscribe("rw/v1/#", qos=1)
        time.sleep(0.3)
        sent = ["rw/v1/rivertown/gauge-hochtal/data", "rw/v1/rivertown/gauge-hochtal/status",
                "rw/v1/rivertown/wq-hochtal/warning/water_quality", "rw/v1/rivertown/gauge-hochtal/cap/flood",
                "rw/v1/rivertown/gauge-hochtal/rejected", "rw/v1/rivertown/gauge-hochtal/warning/flood",
                "rw/v1/rivertown/gauge-hochtal/warning/flood/ack", "rw/v1/lacville/gauge-lacville/data"]
        for topic in sent:
            assert pipeline.publish(topic, b"x") < 128
        got = set()
        while len(got) < 3:
            got.add(reader.received.get(timeout=5)[0])
        time.sleep(0.3)
        while not reader.received.empty():
            got.add(reader.received.get()[0])
        assert got == {"rw/v1/rivertown/gauge-hochtal/warning/flood", "rw/v1/rivertown/gauge-hochtal/warning/flood/ack",
                       "rw/v1/lacville/gauge-lacville/data"}
    finally:
        reader.close()
        pipeline.close()
        services.stop_mosquitto(tmp_path)
