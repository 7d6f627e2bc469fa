"""A QoS 0 flood against a real Mosquitto and InfluxDB: the worker's backlog stays bounded, QoS 1 is never dropped.

The processing thread is held at a gate (a wrapper around ``pipeline.process``; the broker and the
database are real) while a QoS 0 burst far larger than ``ingest.max_queue`` and a stream of QoS 1
readings arrive, so the queue fills deterministically, without timing assumptions. When the
*writer* is what is slow, see test_overload_influx.py. ``pytest -s`` shows each test's figures.

The service-level tests run with the fast client (``mqtt.fast_path``, which holds reads at the bound)
and with plain paho, which never holds its reads: there QoS 0 is dropped at the same bound while
QoS 1 relies on the broker's receive maximum (see :mod:`ingest.consumer`).
"""

from __future__ import annotations

import re
import struct
import threading
import time
import uuid

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from riverwatch.contract import data_topic, rejected_topic
from riverwatch.errors import ConfigError
from riverwatch.settings import Settings

from tests.helpers import Publisher, wait_until

from ingest.fastmqtt import FastClient
from ingest.service import Service
from tests.ingest.overload_kit import (CATALOG, MAX_QUEUE, QOS0_BURST, QOS0_STATION, QOS1_READINGS, QOS1_STATION, RECEIVE_MAXIMUM, WAIT,
    backlog_bound, check_client, make_settings, overloaded_count, publish_qos1, reading, stored)


def test_qos0_flood_is_dropped_and_counted_while_every_qos1_reading_is_stored(services, influx, tmp_path, fast_path):
    svc = Service(make_settings(services, influx, tmp_path, fast_path=fast_path), CATALOG)
    gate, entered = threading.Event(), threading.Event()
    process = svc.pipeline.process

    def gated(obs, lines):
        entered.set()
        gate.wait(WAIT)
        return process(obs, lines)

    svc.pipeline.process = gated
    watcher = Publisher(services, subscribe=rejected_topic(None, None))
    flooder, steady = Publisher(services), Publisher(services)
    svc.start()
    try:
        assert svc.wait_connected(10)
        t0 = time.time() - 2 * 3600
        qos1_done = threading.Event()
        sender = threading.Thread(target=publish_qos1, args=(steady, t0, qos1_done), daemon=True)
        sender.start()
        assert entered.wait(WAIT), "the first QoS 1 reading never reached the pipeline"
        topic = data_topic(*QOS0_STATION)
        infos = [flooder.client.publish(topic, reading(i + 1, t0 + i), qos=0) for i in range(QOS0_BURST)]
        infos[-1].wait_for_publish(WAIT)
        # held at the gate, the worker queues at most MAX_QUEUE - RECEIVE_MAXIMUM QoS 0 messages
        room = MAX_QUEUE - RECEIVE_MAXIMUM
        assert wait_until(lambda: svc.overload_dropped >= QOS0_BURST - room, WAIT), svc.overload_dropped
        gate.set()
        assert qos1_done.wait(WAIT)
        total = QOS0_BURST + QOS1_READINGS
        assert wait_until(lambda: svc.stats.accepted + svc.overload_dropped == total, WAIT), \
            (svc.stats.accepted, svc.overload_dropped)
        assert svc.wait_idle(WAIT)
        dropped = svc.overload_dropped
        assert wait_until(lambda: svc.stats.rejected_by_reason.get("overloaded") == dropped, WAIT)
        assert svc.wait_idle(WAIT)
        stored_qos0 = stored(influx, QOS0_STATION[1])
        stored_qos1 = stored(influx, QOS1_STATION[1])
        print(f"QoS 0 published {QOS0_BURST}, stored {stored_qos0}, dropped {dropped}; QoS 1 published "
              f"{QOS1_READINGS}, stored {stored_qos1}; max queue depth {svc.queue_max_depth} (bound {MAX_QUEUE}), "
              f"reads held {svc.consumer.holds}")
        assert stored_qos1 == QOS1_READINGS
        assert stored_qos0 + dropped == QOS0_BURST
        assert dropped >= QOS0_BURST - room
        # plain paho cannot hold its reads: Mosquitto may send QoS 1 past the receive maximum (overload_kit)
        assert room <= svc.queue_max_depth <= backlog_bound(fast_path)
        assert svc.stats.rejected_by_reason == {"overloaded": dropped}
        assert svc.stats.readings_stored == stored_qos0 + stored_qos1
        assert overloaded_count(influx) == dropped
        bodies = []

        def reported() -> int:
            bodies[:] = [orjson.loads(m.payload) for m in watcher.received]
            return sum(int(re.match(r"(\d+) QoS 0", b["detail"]).group(1)) for b in bodies)

        assert wait_until(lambda: reported() == dropped, WAIT)
        assert {b["reason"] for b in bodies} == {"overloaded"}
        assert len(bodies) < dropped  # aggregated, not one reject per dropped message
        check_client(svc, fast_path)
    finally:
        gate.set()
        svc.stop()
        for client in (watcher, flooder, steady):
            client.close()


def test_the_bound_must_leave_room_beyond_the_qos1_window():
    settings = Settings(ingest={"detectors": [], "max_queue": 1000}, mqtt={"receive_maximum": 1000})
    with pytest.raises(ConfigError, match="ingest.max_queue"):
        Service(settings, CATALOG)


def test_a_held_fast_client_stops_at_the_bound_and_resumes_with_what_it_had_buffered(services):
    """Held, nothing is read; at the bound delivery stops mid-buffer; released, the rest arrives in
    order although no more traffic comes (the buffered tail is handled by ``loop_misc``)."""
    got: list[bytes] = []
    opened, released, subscribed = threading.Event(), threading.Event(), threading.Event()
    client = FastClient(CallbackAPIVersion.VERSION2, client_id=f"hold-{uuid.uuid4().hex[:8]}",
                        protocol=mqtt.MQTTv5, manual_ack=True)
    client.on_raw = lambda topic, payload, mid, qos: got.append(payload)
    client.on_subscribe = lambda *a: subscribed.set()
    topic = f"test/hold/{uuid.uuid4().hex[:8]}"
    client.connect(services.mqtt_host, services.mqtt_port)
    client.loop_start()
    publisher = Publisher(services)
    try:
        client.subscribe(topic, qos=1)
        assert subscribed.wait(10)
        client.hold = lambda: not opened.is_set() or (len(got) >= 10 and not released.is_set())
        payloads = [b"m%03d" % i for i in range(50)]
        for payload in payloads:
            publisher.client.publish(topic, payload, qos=1).wait_for_publish(10)
        assert wait_until(lambda: client.holds > 0, WAIT)
        assert got == []  # held: nothing is read
        opened.set()  # everything waiting in the socket comes in one read; the bound stops it at 10
        assert wait_until(lambda: len(got) == 10 and client.holds > 1, WAIT), (client.holds, len(got))
        assert got == payloads[:10]
        released.set()
        assert wait_until(lambda: len(got) == len(payloads), WAIT), len(got)
        assert got == payloads
    finally:
        publisher.close()
        client.disconnect()
        client.loop_stop()


def small_publish(topic: str, payload: bytes, mid: int) -> bytes:
    """A QoS 1 MQTT 5 PUBLISH without properties (remaining length below 128)."""
    body = struct.pack("!H", len(topic)) + topic.encode() + struct.pack("!H", mid) + b"\x00" + payload
    return bytes([0x32, len(body)]) + body


def test_a_hold_stops_mid_buffer_and_loop_misc_hands_over_the_rest_once_released():
    """Pure buffer logic: what a hold left behind needs no further socket read."""
    got: list[int] = []
    released = threading.Event()
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="hold-buffer", protocol=mqtt.MQTTv5, manual_ack=True)
    client.on_raw = lambda topic, payload, mid, qos: got.append(mid)
    client.hold = lambda: len(got) >= 3 and not released.is_set()
    stream = b"".join(small_publish("rw/v1/p/s/data", b"x", mid) for mid in range(1, 9))
    rc, used = client._handle_buffer(stream, None)
    assert rc == 0 and got == [1, 2, 3] and client.holds == 1
    client._sock = client._rx_sock = object()  # as after a read on this socket that was held mid-buffer
    client._rx = stream[used:]
    try:
        client.loop_misc()
        assert got == [1, 2, 3]  # still held
        released.set()
        client.loop_misc()
        assert got == list(range(1, 9)) and client._rx == b""
    finally:
        client._sock = None
