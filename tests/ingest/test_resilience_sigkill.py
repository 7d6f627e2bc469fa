"""Break the worker on purpose: SIGKILL of ``riverwatch run`` mid-stream, during a flood warning.

The test runs its own Mosquitto and InfluxDB (a module fixture in a tmp state dir, so they never
disturb the session services), publishes a paced QoS 1 stream with a persistent-session publisher,
kills the worker while the water is high, restarts it, and then proves, with exact equalities on
what is in InfluxDB, that every reading the broker acknowledged to the publisher is stored exactly
once and that the warning is neither raised again nor forgotten. ``pytest -s`` shows the figures.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from application.services import free_port

from tests.ingest.resilience_kit import (CATALOG, WAIT, WEATHER, StreamPublisher, WorkerProcess, message, report, stored,
                                         wait_until, worker_config)
from tests.ingest.resilience_kit import database, own  # noqa: F401 (fixtures)


class WarningWatcher:
    """Collects every warning event published on MQTT."""

    def __init__(self, host: str, port: int) -> None:
        self.events: list[dict] = []
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: m.payload and self.events.append(orjson.loads(m.payload))
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe("rw/v1/+/+/warning/+", qos=1)
        assert ready.wait(10)

    def seen(self, id_: str, state: str, level: str | None = None) -> bool:
        return any(e["id"] == id_ and e["state"] == state and (level is None or e["level"] == level)
                   for e in self.events)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def flood_levels() -> list[float]:
    """Rise 1.0 → 3.3 m (warning at 3.0), hold, then fall to 1.0 m and stay low long enough to clear."""
    rise = [round(1.0 + 0.02 * i, 3) for i in range(116)]
    hold = [3.3 + 0.01 * (i % 5) for i in range(420)]
    fall = [round(3.3 - 0.02 * i, 3) for i in range(116)]
    low = [1.0 + 0.001 * (i % 7) for i in range(150)]
    return rise + hold + fall + low


def test_sigkill_of_the_worker_loses_nothing_and_keeps_its_warnings(own, database, tmp_path):
    origin = CATALOG.station("rivertown", "gauge-hochtal")
    t0 = int(time.time()) - 4 * 86400
    levels = flood_levels()
    messages = []
    for i, level in enumerate(levels):
        messages.append(message(origin, i, t0, level))
        messages += [message(st, i, t0) for st in WEATHER]
    hold_end = (116 + 420) * 3  # index in ``messages`` where the water starts falling
    port = free_port()
    config = tmp_path / "worker.toml"
    worker_config(config, own, database.database, own.influx_url, tmp_path, port, client="killme",
                  influx_timeout_s=None, detectors='["level_threshold"]')
    worker = WorkerProcess(config, tmp_path / "worker.log", port)
    watcher = WarningWatcher(own.mqtt_host, own.mqtt_port)
    publisher = StreamPublisher(own.mqtt_host, own.mqtt_port)
    warning_topics = set()
    try:
        worker.start()
        publisher.stream(messages, pace_s=0.006)
        origin_id = None

        def escalated() -> bool:
            nonlocal origin_id
            for e in watcher.events:
                if e["station"] == origin.id and e["hazard"] == "flood" and e["level"] == "warning":
                    origin_id = e["id"]
                    return True
            return False

        assert wait_until(escalated, WAIT), worker.tail()
        killed_at = publisher.index + 150
        assert wait_until(lambda: publisher.index >= killed_at, WAIT)
        assert publisher.index < hold_end, "the stream outran the test: the kill must come while the water is high"
        before_kill = {k: v for k, v in worker.metrics().items() if k[0] == "riverwatch_messages_acked_total"}
        worker.kill()
        time.sleep(2.0)  # the stream goes on into the persistent session while the worker is dead
        events_before_restart = len(watcher.events)
        worker.start()
        publisher.join()
        assert publisher.wait_acked()
        acknowledged = publisher.acknowledged()
        assert wait_until(lambda: watcher.seen(origin_id, "cleared"), WAIT), worker.tail()
        assert wait_until(lambda: stored(database)[1] >= acknowledged, WAIT, 0.5), worker.tail()
        rejected = worker.rejects()
        after = [e for e in watcher.events[events_before_restart:]]
        total, keys = stored(database)
        rows = database.query_rows('SELECT "id", "state", "level" FROM "warning"')
        raised = Counter(r["id"] for r in rows if r["state"] == "raised")
        warning_topics = {(e["partner"], e["station"], e["hazard"]) for e in watcher.events}
        report("sigkill", publisher, acknowledged, total, keys, rejected,
               killed_at_message=killed_at, acked_by_first_worker=int(sum(before_kill.values())),
               acked_by_second_worker=int(worker.metric("riverwatch_messages_acked_total") or 0),
               warning_ids=len(raised), raised_events_in_influx=sum(raised.values()),
               events_after_restart=Counter(e["state"] for e in after))
        assert len(acknowledged) == sum(len(k) for k, _ in publisher.sent)
        assert keys == acknowledged and total == len(keys)
        assert raised[origin_id] == 1 and set(raised.values()) == {1}
        assert not any(e["id"] == origin_id and e["state"] == "raised" for e in after)  # not re-raised
        assert any(e["id"] == origin_id and e["state"] == "cleared" for e in after)  # not forgotten
        cleared = [r for r in rows if r["id"] == origin_id and r["state"] == "cleared"]
        assert len(cleared) == 1
        assert set(rejected) <= {"replayed"}  # only redeliveries of what was already durable
    finally:
        publisher.close()
        worker.stop()
        clear_retained(own, warning_topics)
        watcher.close()


def clear_retained(own, topics) -> None:
    if not topics:
        return
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"clean-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.connect(own.mqtt_host, own.mqtt_port)
    client.loop_start()
    try:
        for partner, station, hazard in topics:
            client.publish(f"rw/v1/{partner}/{station}/warning/{hazard}", b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
