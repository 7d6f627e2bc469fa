"""Partner isolation enforced by the real Mosquitto with the rendered password and ACL files."""

import queue
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from application import broker_auth, services
from riverwatch.catalog import load_catalog
from riverwatch.settings import REPO_ROOT

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory):
    state = tmp_path_factory.mktemp("secured")
    files = broker_auth.render(CATALOG, state / "broker")
    _, port = services.start_mosquitto(state, password_file=files["passwd"], acl_file=files["acl"])
    creds = broker_auth.load_or_create_credentials(CATALOG, files["credentials"])
    try:
        yield port, creds
    finally:
        services.stop_mosquitto(state)


class Session:
    """A connected MQTT 5 client that records PUBACK reason codes and received messages."""

    def __init__(self, port: int, username: str, password: str):
        self.acks: dict[int, int] = {}
        self.acked = threading.Condition()
        self.received: queue.Queue = queue.Queue()
        self.connected = threading.Event()
        self.reason = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda c, u, msg: self.received.put((msg.topic, msg.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.connected.wait(5)

    def _on_connect(self, client, userdata, flags, reason, properties):
        self.reason = reason
        self.connected.set()

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
