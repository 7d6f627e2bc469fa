"""A joint drill's readings: a scenario played on the exercise topics of chosen partners' stations.

:func:`play_drill` publishes, QoS 1, what :func:`devices.simulate.scenario_messages` yields for the
partners' stations on ``rw/v1/_exercise/<drill>/<partner>/<station>/data``, paced at ``speed``
simulated seconds per wall second. Timestamps run from ``now - span`` so none is in the future.
The running worker handles them in a lane of its own (:mod:`ingest.exercise`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt

from devices.simulate import scenario_messages
from riverwatch.catalog import Catalog
from riverwatch.errors import ConfigError
from riverwatch.exercise_contract import station_exercise_topic
from riverwatch.settings import Settings

log = logging.getLogger(__name__)


def drill_partners(catalog: Catalog, partners: Iterable[str]) -> set[str]:
    """The partner ids of ``partners`` (all catalog partners when empty); ConfigError for an unknown one."""
    known = {p.id for p in catalog.partners}
    chosen = set(partners) or known
    unknown = sorted(chosen - known)
    if unknown:
        raise ConfigError(f"--partners: unknown partner(s) {', '.join(unknown)} (catalog: {', '.join(sorted(known))})")
    return chosen


def play_drill(settings: Settings, catalog: Catalog, drill: str, scenario: str, partners: Iterable[str],
               span_s: float, speed: float, interval_s: float = 60.0, seed: int = 0,
               stop: threading.Event | None = None, progress: Callable[[int, float], None] | None = None) -> int:
    """Publish the drill; returns the number of messages the broker acknowledged.

    ``progress(published, simulated fraction)`` is called about every 5 s; setting ``stop`` ends
    the drill early (what was published stays published).
    """
    chosen, stop = drill_partners(catalog, partners), stop or threading.Event()
    client = _connect(settings, drill)
    start_s, wall0, published, last = time.time() - span_s, time.monotonic(), [], time.monotonic()
    try:
        for topic, payload, reading in scenario_messages(catalog, scenario, start_s, span_s, interval_s, seed):
            if reading.partner not in chosen:
                continue
            delay = wall0 + (reading.time_s - start_s) / speed - time.monotonic() if math.isfinite(speed) else 0
            if stop.wait(max(0.0, delay)) or stop.is_set():
                break
            published.append(client.publish(station_exercise_topic(drill, reading.partner, reading.station),
                                            payload, qos=1))
            if progress is not None and time.monotonic() - last > 5.0:
                last = time.monotonic()
                progress(len(published), (reading.time_s - start_s) / span_s)
        for info in published:
            info.wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()
    acked = sum(info.is_published() for info in published)
    if progress is not None:
        progress(acked, 1.0)
    return acked


def _connect(settings: Settings, drill: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"rw-drill-{drill}-{uuid.uuid4().hex[:6]}",
                         protocol=mqtt.MQTTv5)
    if settings.mqtt.username:
        password = settings.mqtt.password.get_secret_value() if settings.mqtt.password else None
        client.username_pw_set(settings.mqtt.username, password)
    if settings.mqtt.tls:
        client.tls_set(ca_certs=str(settings.mqtt.ca_file) if settings.mqtt.ca_file else None)
    client.max_queued_messages_set(0)
    client.connect(settings.mqtt.host, settings.mqtt.port)
    client.loop_start()
    return client
