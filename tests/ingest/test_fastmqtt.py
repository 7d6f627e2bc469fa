"""FastClient: buffered PUBLISH parsing (pure: packets built by hand, no socket), and keep-alive
while reading is held (the real Mosquitto: the session broker, or one of the test's own that it
stops). ``pytest -s`` shows the keep-alive tests' figures."""

from __future__ import annotations

import select
import socket
import struct
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from application.services import start_mosquitto, stop_mosquitto

from tests.helpers import require_binaries, wait_until

from ingest.fastmqtt import FastClient, _linger, _peer_acknowledges, puback_bytes, supported

#: The smallest keep-alive the settings allow (``mqtt.keepalive_s``).
KEEPALIVE_S = 5
#: Messages the broker has for the held client (about 1.5 MB).
BACKLOG = 1500
PAYLOAD_BYTES = 1000


def publish_packet(topic: str, payload: bytes, mid: int, qos: int = 1, props: bytes = b"\x00") -> bytes:
    body = struct.pack("!H", len(topic)) + topic.encode() + (struct.pack("!H", mid) if qos else b"") + props + payload
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (128 if length else 0))
        if not length:
            break
    return bytes([0x30 | (qos << 1)]) + bytes(encoded) + body


def client(got: list) -> FastClient:
    c = FastClient(CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv5, manual_ack=True)
    c.on_raw = lambda topic, payload, mid, qos: got.append((topic, payload, mid, qos))
    return c


def test_every_split_of_the_stream_yields_the_same_messages():
    assert supported()
    messages = [("rw/v1/p/s/data", b"x" * n, 1 + n, 1) for n in (0, 5, 130, 20000)]
    stream = b"".join(publish_packet(*m) for m in messages)
    for cut in range(0, len(stream), 97):
        got: list = []
        c = client(got)
        rc, used = c._handle_buffer(stream[:cut], None)
        assert rc == 0
        rc, used2 = c._handle_buffer(stream[:cut][used:] + stream[cut:], None)
        assert rc == 0 and used + used2 == len(stream)
        assert got == messages


def test_a_publish_with_properties_goes_through_paho():
    got: list = []
    c = client(got)
    seen = []
    c.on_message = lambda client, userdata, message: seen.append((message.topic, message.payload, message.mid))
    props = b"\x02\x01\x01"  # property length 2: payload format indicator = 1
    rc, used = c._handle_buffer(publish_packet("a/b", b"hi", 7, props=props), None)
    assert rc == 0 and got == [] and seen == [("a/b", b"hi", 7)]


def test_pubacks_are_concatenated_in_order():
    assert puback_bytes([3, 1, 2]) == b"@\x02\x00\x03@\x02\x00\x01@\x02\x00\x02"


# --------------------------------------------------------------------------- keep-alive while held


def loopback_pair() -> tuple[socket.socket, socket.socket]:
    """A connected TCP pair on 127.0.0.1: (ours, the peer's)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
    return ours, peer


def peer_send_fails(peer: socket.socket) -> bool:
    try:
        peer.sendall(b"y" * 1000)
    except OSError:  # broken pipe, connection reset
        return True
    return False


def test_a_graceful_close_lets_a_still_sending_peer_read_our_last_bytes():
    """Closing with unread bytes resets the connection (a still-sending broker breaks off before
    reading our last acks); ``_linger`` half-closes and drains until the peer has read and closed."""
    ours, peer = loopback_pair()
    with ours, peer:
        peer.sendall(b"x" * 4096)  # unread on our side
        assert wait_until(lambda: select.select([ours], [], [], 0)[0], 5)
        ours.close()  # outright: the kernel answers with a reset
        assert wait_until(lambda: peer_send_fails(peer), 5)
    ours, peer = loopback_pair()
    with ours, peer:
        peer.sendall(b"x" * 4096)
        ours.sendall(b"last acks")
        result: list[bool] = []
        closer = threading.Thread(target=lambda: result.append(_linger(ours, 10.0)))
        closer.start()
        for _ in range(50):  # the peer keeps sending while it reads: nothing breaks
            peer.sendall(b"y" * 1000)
        received = b""
        while chunk := peer.recv(4096):
            received += chunk
        peer.close()
        closer.join(10)
        assert received == b"last acks" and result == [True]


def test_the_tcp_evidence_follows_the_peer():
    """Established with everything acknowledged: evidence; the peer closed, or no TCP: none."""
    ours, peer = loopback_pair()
    with ours, peer:
        ours.sendall(b"\xc0\x00")  # a PINGREQ's bytes; the peer's kernel acknowledges them unread
        assert wait_until(lambda: _peer_acknowledges(ours), 5)
        peer.close()
        assert wait_until(lambda: not _peer_acknowledges(ours), 5)
    left, right = socket.socketpair()
    with left, right:
        assert not _peer_acknowledges(left)


class HeldClient:
    """A FastClient with a persistent session on a real broker, held at will, counting (dis)connects."""

    def __init__(self, host: str, port: int) -> None:
        self.got: list[bytes] = []
        self.held = threading.Event()
        self.subscribed = threading.Event()
        self.connects = self.disconnects = 0
        self.topic = f"test/keepalive/{uuid.uuid4().hex[:8]}"
        client = FastClient(CallbackAPIVersion.VERSION2, client_id=f"held-{uuid.uuid4().hex[:8]}",
                            protocol=mqtt.MQTTv5)
        client.on_raw = lambda topic, payload, mid, qos: self.got.append(payload)
        client.hold = self.held.is_set
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = lambda *args: self.subscribed.set()
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        client.connect(host, port, keepalive=KEEPALIVE_S)
        client.loop_start()
        self.client = client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connects += 1
        client.subscribe(self.topic, qos=1)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.disconnects += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_backlog(host: str, port: int, topic: str) -> list[bytes]:
    """Publish :data:`BACKLOG` QoS 1 messages (each acknowledged by the broker) and return them."""
    payloads = [b"%05d" % i + b"x" * (PAYLOAD_BYTES - 5) for i in range(BACKLOG)]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()
    return payloads


def test_a_long_hold_keeps_the_connection_and_then_delivers_everything(services):
    """Held for three keep-alive intervals with a backlog waiting in the socket: the PINGRESPs wait
    behind it, yet the connection is not declared dead; released, every message arrives in order."""
    held = HeldClient(services.mqtt_host, services.mqtt_port)
    try:
        assert held.subscribed.wait(10)
        held.held.set()
        payloads = publish_backlog(services.mqtt_host, services.mqtt_port, held.topic)
        assert wait_until(lambda: held.client.holds > 0, 10)
        # three pings answered by the connection's state: at least three keep-alive intervals held
        assert wait_until(lambda: held.client.pings_vouched >= 3 or held.disconnects, 8 * KEEPALIVE_S)
        vouched, delivered_while_held = held.client.pings_vouched, len(held.got)
        held.held.clear()
        assert wait_until(lambda: len(held.got) == BACKLOG, 30), len(held.got)
    finally:
        held.close()
    print(f"\n[held keep-alive] keepalive {KEEPALIVE_S} s, pings vouched {vouched}, reads held "
          f"{held.client.holds}, delivered while held {delivered_while_held}, then {len(held.got)}/{BACKLOG}; "
          f"connects {held.connects}, disconnects before close {held.disconnects - 1}")
    assert delivered_while_held == 0 and vouched >= 3
    assert held.connects == 1 and held.disconnects == 1  # the one of close()
    assert held.got == payloads


def test_a_broker_stopped_during_a_hold_is_still_detected(tmp_path):
    """The broker goes away while reading is held: paho's keep-alive timeout still ends the connection;
    started again, the client reconnects although it is still held (a CONNACK is never held)."""
    require_binaries("mosquitto")
    _, port = start_mosquitto(tmp_path)
    held = None
    try:
        held = HeldClient("127.0.0.1", port)
        assert held.subscribed.wait(10)
        held.held.set()
        publish_backlog("127.0.0.1", port, held.topic)
        assert wait_until(lambda: held.client.holds > 0, 10)
        stop_mosquitto(tmp_path)
        # on_disconnect runs on paho's thread a moment before is_connected() turns False: wait for both
        assert wait_until(lambda: held.disconnects >= 1 and not held.client.is_connected(), 4 * KEEPALIVE_S)
        detected = {"connected": held.client.is_connected(), "connects": held.connects,
                    "pings vouched": held.client.pings_vouched}
        start_mosquitto(tmp_path, port=port)
        assert wait_until(lambda: held.connects == 2 and held.client.is_connected(), 6 * KEEPALIVE_S)
        print(f"\n[broker stopped while held] at detection {detected}; disconnects {held.disconnects}; "
              f"restarted: connects {held.connects}, still held {held.held.is_set()}")
        assert not detected["connected"] and detected["connects"] == 1
    finally:
        if held is not None:
            held.close()
        stop_mosquitto(tmp_path)
