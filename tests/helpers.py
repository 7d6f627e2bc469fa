"""Small helpers shared by tests (not collected: no ``test_`` prefix)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last truth."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@contextlib.contextmanager
def worker_starter(catalog) -> Iterator[Callable]:
    """``start(settings)`` starts a connected ingest worker on ``catalog``; every one started is stopped
    when the block ends."""
    from ingest.service import Service

    started = []

    def start(settings) -> Service:
        svc = Service(settings, catalog)
        svc.start()
        started.append(svc)
        assert svc.wait_connected(10)
        return svc

    try:
        yield start
    finally:
        for svc in started:
            svc.stop()


def require_binaries(*names: str) -> None:
    """Skip the calling test, with the reason, when a service binary (mosquitto, influxd) is missing."""
    import pytest

    from riverwatch.errors import ServiceError
    from application.services import find_binary

    try:
        for name in names:
            find_binary(name)
    except ServiceError as exc:
        pytest.skip(f"local services unavailable: {exc}")


def detector_levels(det, points, quantity: str = "water_level") -> list:
    """The level after each ``(t, value)`` point fed to ``det`` (score_one, then learn_one)."""
    out = []
    for t, v in points:
        x = {"t": t, quantity: v}
        s = det.score_one(x)
        det.learn_one(x)
        out.append(det.level(s))
    return out


def stuck_high_spec():
    """A ``sensor``-hazard detector spec named ``stuck_check`` that calls a second water level above
    2.5 m in a row stuck: it fires on the same reading as level_threshold's persistence (pure logic,
    to test in which order a reading's streams reach the warning book)."""
    from pydantic import BaseModel

    from detectors.base import DetectorSpec, Finding
    from riverwatch.model import Level

    class NoParams(BaseModel):
        pass

    class StuckHigh:
        def __init__(self):
            self.previous = 0.0

        def score_one(self, x):
            return 1.5 if min(x.get("water_level", 0.0), self.previous) > 2.5 else 0.0

        def learn_one(self, x):
            self.previous = x.get("water_level", 0.0)

        def level(self, score):
            return Level.ADVISORY if score >= 1 else Level.NONE

        def evidence(self, x, score):
            return Finding("stuck_check", "sensor", self.level(score), "water_level", x["water_level"], score,
                           None, None, "sensor.stuck", (("fault", "stuck"),))

    return DetectorSpec("stuck_check", lambda st, q, p: StuckHigh(), NoParams, "sensor",
                        lambda st, p=None: ["water_level"])


class Publisher:
    """A plain paho client on the test broker: publishes QoS 1 and collects the messages of
    ``subscribe`` in ``received``."""

    def __init__(self, services, subscribe: str | None = None) -> None:
        self.received: list[mqtt.MQTTMessage] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: self.received.append(m)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.connect(services.mqtt_host, services.mqtt_port)
        self.client.loop_start()
        if subscribe:
            self.client.subscribe(subscribe, qos=1)
            assert self.subscribed.wait(10)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
