"""Publishing on MQTT: rejects, warnings and CAP messages, on the ingest worker's paho client."""

from __future__ import annotations

import logging

from riverwatch.contract import cap_topic, rejected_topic, warning_topic

log = logging.getLogger(__name__)


class MqttPublisher:
    """Publishes rejects (QoS 1, not retained) and warnings (QoS 1, retained) on a paho client.

    A cleared warning is published like any other state and stays retained, so a late
    subscriber sees the all-clear rather than nothing.
    """

    def __init__(self, client: object) -> None:
        self.client = client
        self.rejects_published = 0
        self.warnings_published = 0
        self.caps_published = 0
        self.publish_errors = 0

    def reject(self, partner: str | None, station: str | None, body: bytes) -> bool:
        """Publish a reject body on the station's ``rejected`` topic."""
        return self._publish(rejected_topic(partner, station), body, retain=False, counter="rejects_published")

    def warning(self, partner: str, station: str, hazard: str, body: bytes) -> bool:
        """Publish a warning JSON, retained, on its ``warning/<hazard>`` topic."""
        return self._publish(warning_topic(partner, station, hazard), body, retain=True,
                             counter="warnings_published")

    def cap(self, partner: str, station: str, hazard: str, xml: bytes) -> bool:
        """Publish the warning's CAP 1.2 XML, retained, on its ``cap/<hazard>`` topic."""
        return self._publish(cap_topic(partner, station, hazard), xml, retain=True, counter="caps_published")

    def _publish(self, topic: str, body: bytes, retain: bool, counter: str) -> bool:
        try:
            info = self.client.publish(topic, body, qos=1, retain=retain)
        except Exception:  # paho raises on a payload it cannot send; count it, keep going
            self.publish_errors += 1
            log.exception("publish on %s failed", topic)
            return False
        # paho queues QoS 1 messages while disconnected and sends them after reconnecting
        if info.rc not in (0, 4):  # MQTT_ERR_SUCCESS, MQTT_ERR_NO_CONN (queued)
            self.publish_errors += 1
            return False
        setattr(self, counter, getattr(self, counter) + 1)
        return True
