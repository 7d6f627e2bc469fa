"""What an ingest worker sends out besides readings: rejects and warning events, on MQTT and to InfluxDB.

A reject is published on its station's ``rejected`` topic and written as a ``reject`` line (its
timestamps strictly increasing, so that two rejects of one moment do not overwrite each other);
a warning event is written as a ``warning`` line and published, rendered for people (JSON with
its texts, CAP 1.2 XML, the Atom feed, see :mod:`ingest.alerts`), retained.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from riverwatch import storage
from riverwatch.catalog import Catalog
from riverwatch.contract import SYSTEM_PARTNER, encode_reject, encode_warning, parse_topic
from riverwatch.errors import DecodeError
from riverwatch.model import WarningEvent
from riverwatch.storage import reject_line, warning_line, warning_message

from ingest.alerts import AlertRenderer
from ingest.influx_sink import InfluxSink
from ingest.mqtt_publisher import MqttPublisher
from ingest.stats import Stats

log = logging.getLogger(__name__)


class Outbox:
    """Publishes and writes a worker's rejects and warning events (processing thread).

    Parameters
    ----------
    catalog
        The station catalog.
    stats
        The worker's counters (``rejected``, ``warnings_published``, ``errors``).
    sink
        Where the ``reject`` and ``warning`` lines go.
    publisher
        Publishes on MQTT.
    alerts
        Renders warnings for people.
    on_warning
        Called with each :class:`~riverwatch.model.WarningEvent` once it is published.
    follow
        Also called with each event, before ``on_warning`` (the worker's acknowledgement desk).
    written
        Called with ``(event, time of its line)`` once its ``warning`` line is handed to the sink
        (the sharing sink marks the window).
    """

    def __init__(self, catalog: Catalog, stats: Stats, sink: InfluxSink, publisher: MqttPublisher,
                 alerts: AlertRenderer, on_warning: Callable[[WarningEvent], None] | None = None,
                 follow: Callable[[WarningEvent], None] | None = None,
                 written: Callable[[WarningEvent, int], None] | None = None) -> None:
        self.follow = follow
        self.written = written
        self.catalog = catalog
        self.stats = stats
        self.sink = sink
        self.publisher = publisher
        self.alerts = alerts
        self.on_warning = on_warning
        self._last_reject_ns = 0

    def reject(self, exc: DecodeError, topic: str, payload: bytes, arrival: float, token: tuple) -> None:
        """Count, publish and write the reject of one message; ``token`` is acknowledged once it is durable."""
        stats = self.stats
        stats.rejected += 1
        stats.rejected_by_reason[exc.reason] = stats.rejected_by_reason.get(exc.reason, 0) + 1
        try:
            partner, station, _ = parse_topic(topic)
        except DecodeError:
            partner = station = None
        self.publisher.reject(partner, station, encode_reject(exc.reason, exc.detail, topic, payload, arrival))
        self.sink.add([reject_line(exc.reason, partner, exc.detail, topic, self._reject_time_ns(int(arrival * 1e9)))],
                      token)

    def publish_overloaded(self, detail: str, topic: str, arrival: float) -> None:
        """Publish one ``overloaded`` reject (QoS 0 messages dropped) on the system's ``rejected`` topic."""
        self.publisher.reject(None, None, encode_reject("overloaded", detail, topic, b"", arrival))

    def write_overloaded(self, count: int, detail: str, topic: str) -> None:
        """Write one ``overloaded`` reject line standing for ``count`` dropped messages."""
        self.sink.add([storage.line(storage.REJECT, {"reason": "overloaded", "partner": SYSTEM_PARTNER},
                                    {"count": count, "detail": detail[:512], "topic": topic[:256]},
                                    self._reject_time_ns(time.time_ns()))])

    def warnings(self, events: list[WarningEvent]) -> bool:
        """Write and publish warning events; True when there were any."""
        if not events:
            return False
        lines, times = [], []
        for event in events:
            times.append(self.alerts.line_time(event))
            lines.append(warning_line(event, self.catalog, times[-1], time.time_ns()))
            self._publish(event)
            if self.follow is not None:
                self.follow(event)
            if self.on_warning is not None:
                try:
                    self.on_warning(event)
                except Exception:
                    log.exception("on_warning callback failed")
        self.sink.add(lines)
        if self.written is not None:
            for event, time_ns in zip(events, times):
                self.written(event, time_ns)
        return True

    def _publish(self, event: WarningEvent) -> None:
        """Publish one event rendered (JSON with its texts, and CAP), or in plain English should rendering fail."""
        try:
            alert = self.alerts.render(event)
            body, cap_xml = alert.json_body, alert.cap_xml
        except Exception:  # a text or CAP problem must not cost the warning itself
            log.exception("rendering warning %s failed; publishing the plain English text", event.id)
            self.stats.errors += 1
            body, cap_xml = encode_warning(event, {"en": warning_message(event, self.catalog)}), None
        if self.publisher.warning(event.partner, event.station, event.hazard, body):
            self.stats.warnings_published += 1
        if cap_xml is not None:
            self.publisher.cap(event.partner, event.station, event.hazard, cap_xml)

    def _reject_time_ns(self, time_ns: int) -> int:
        """``time_ns``, or just after the last reject's time when that is not earlier."""
        time_ns = max(time_ns, self._last_reject_ns + 1)
        self._last_reject_ns = time_ns
        return time_ns
