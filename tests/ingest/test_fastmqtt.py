"""FastClient's buffered PUBLISH parsing (pure: packets built by hand, no socket)."""

from __future__ import annotations

import struct

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ingest.fastmqtt import FastClient, puback_bytes, supported


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
