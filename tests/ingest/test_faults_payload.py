"""Sustained payloads near ``mqtt.max_payload_bytes`` while InfluxDB is slow: memory stays bounded.

A stream of QoS 1 messages padded to just under the 16 KiB limit (valid JSON: whitespace), with a
few over it, goes through the real Mosquitto into a worker whose InfluxDB answers every write half
a second late (:class:`~tests.ingest.fault_proxy.FaultProxy`, real InfluxDB behind it), so the
backlog fills. The worker's own accounting must stay within its bounds: at most ``ingest.max_queue``
messages held, and at most that many payloads' worth of bytes (``FlowControl.backlog_bytes_max``,
payload bytes queued plus line bytes in the writer). Every acknowledged reading is stored once;
the oversize ones are rejected, not stored. No timing is asserted.
"""

from __future__ import annotations

import time
import uuid

from riverwatch.settings import Settings

from tests.helpers import wait_until
from tests.ingest.fault_proxy import FaultProxy
from tests.ingest.resilience_kit import GAUGES, WAIT, CATALOG, StreamPublisher, message, report, stored

from ingest.service import Service

MAX_PAYLOAD = 16384
MAX_QUEUE, RECEIVE_MAXIMUM = 200, 100
MESSAGES = 600
OVERSIZE_EVERY = 50


def padded(payload: bytes, size: int) -> bytes:
    """``payload`` (a JSON object) grown to ``size`` bytes with whitespace before its closing brace."""
    return payload[:-1] + b" " * (size - len(payload)) + b"}"


def test_large_payloads_under_a_slow_influxdb_keep_the_backlog_bounded(services, influx, tmp_path):
    proxy = FaultProxy(services.influx_url, late_s=0.5)
    settings = Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"ingest-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 300, "receive_maximum": RECEIVE_MAXIMUM, "max_payload_bytes": MAX_PAYLOAD},
        influx={"url": proxy.url, "database": influx.database, "timeout_s": 10.0, "flush_interval_s": 0.05},
        ingest={"detectors": [], "spool_dir": tmp_path / "spool", "summary_interval_s": 60.0, "max_queue": MAX_QUEUE})
    svc = Service(settings, CATALOG)
    svc.start()
    publisher = StreamPublisher(services.mqtt_host, services.mqtt_port)
    t0 = int(time.time()) - 86400
    messages, oversize = [], []
    for i in range(MESSAGES):
        topic, payload, keys = message(GAUGES[i % len(GAUGES)], i // len(GAUGES), t0)
        if i % OVERSIZE_EVERY == OVERSIZE_EVERY - 1:
            oversize.append(keys)
            messages.append((topic, padded(payload, MAX_PAYLOAD + 100), []))
        else:
            messages.append((topic, padded(payload, MAX_PAYLOAD - 10), keys))
    try:
        assert svc.wait_connected(10)
        proxy.set_mode("late")
        publisher.stream(messages, pace_s=0.0)
        publisher.join()
        assert publisher.wait_acked()
        acknowledged = publisher.acknowledged()
        assert wait_until(lambda: stored(influx)[1] >= acknowledged, WAIT, 0.5)
        assert svc.wait_idle(WAIT)
        total, keys = stored(influx)
        flow = svc.flow
        report("large payloads", publisher, acknowledged, total, keys, svc.stats.rejected_by_reason,
               backlog_max=flow.backlog_max, backlog_bytes_max=flow.backlog_bytes_max,
               backlog_bytes_now=flow.backlog_bytes, holds=svc.consumer.holds, delayed=proxy.answers_delayed)
        assert keys == acknowledged and total == len(keys)
        assert svc.stats.rejected_by_reason == {"oversize": len(oversize)}
        assert flow.backlog_max <= MAX_QUEUE
        assert flow.backlog_bytes_max > RECEIVE_MAXIMUM * (MAX_PAYLOAD // 2)  # it did fill with big payloads
        assert flow.backlog_bytes_max <= MAX_QUEUE * (MAX_PAYLOAD + 100)  # ... and no further than the bound
        assert flow.backlog_bytes == 0 and flow.queue.bytes == 0
    finally:
        publisher.close()
        svc.stop()
        proxy.close()


def test_a_payload_beyond_the_brokers_packet_limit_never_reaches_the_worker(services, influx, tmp_path):
    """The shipped broker config refuses packets over ``MOSQUITTO_MAX_PACKET_BYTES`` (as the compose
    broker does), so a 1 MB message costs the worker nothing; one just under the limit is read and
    rejected as ``oversize``. (Before, the local broker passed any size to the worker.)"""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from application.local_mosquitto import MOSQUITTO_MAX_PACKET_BYTES
    from riverwatch.contract import data_topic

    settings = Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"ingest-{uuid.uuid4().hex[:8]}"},
        influx={"url": services.influx_url, "database": influx.database},
        ingest={"detectors": [], "spool_dir": tmp_path / "spool"})
    svc = Service(settings, CATALOG)
    svc.start()
    topic = data_topic(*GAUGES[0].key)
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"big-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
    try:
        assert svc.wait_connected(10)
        sender.connect(services.mqtt_host, services.mqtt_port)
        sender.loop_start()
        under = padded(message(GAUGES[0], 1, int(time.time()) - 600)[1], MOSQUITTO_MAX_PACKET_BYTES - 1000)
        sender.publish(topic, under, qos=1).wait_for_publish(10)
        assert wait_until(lambda: svc.stats.rejected_by_reason == {"oversize": 1})
        huge = sender.publish(topic, b" " * 1_000_000, qos=1)
        assert not wait_until(huge.is_published, 3)  # refused by the broker: never acknowledged
        assert svc.wait_idle(WAIT)
        assert svc.stats.received == 1 and svc.flow.backlog_bytes_max < MOSQUITTO_MAX_PACKET_BYTES
    finally:
        sender.loop_stop()
        sender.disconnect()
        svc.stop()
