"""Publishing on MQTT: rejects, warnings and CAP messages, on the ingest worker's paho client.

On an MQTT 5 client (the worker's, see :mod:`ingest.consumer`) every message says what it is —
content type ``application/json`` or ``application/cap+xml``, payload format UTF-8 — and the
retained warning and CAP messages carry a message expiry, so the broker stops handing out a
message once it is no longer valid:

- a CAP message expires at its own ``<expires>`` (6 h after an event, 1 h after an all-clear,
  see :mod:`early_warning.cap`);
- a warning JSON of an all-clear expires with the all-clear's CAP validity after its ``at`` time;
  the JSON of an open warning has no expiry: it stays retained until the warning's next event.

A message already past its validity is sent with an expiry of 1 s (it replaces the retained one,
then goes). An MQTT 3.1.1 client publishes the same messages without properties.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from early_warning.cap import CLEARED_VALID_FOR_S, MIME_TYPE as CAP_MIME
from riverwatch.contract import cap_topic, rejected_topic, warning_topic

log = logging.getLogger(__name__)

JSON_MIME = "application/json"
_CAP_EXPIRES = re.compile(rb"<(?:\w+:)?expires>([^<]+)</")


class MqttPublisher:
    """Publishes rejects (QoS 1, not retained) and warnings (QoS 1, retained) on a paho client.

    A cleared warning is published like any other state and stays retained (until its expiry),
    so a late subscriber sees the all-clear rather than nothing.
    """

    def __init__(self, client: object) -> None:
        self.client = client
        self.rejects_published = 0
        self.warnings_published = 0
        self.caps_published = 0
        self.notices_published = 0
        self.publish_errors = 0

    def reject(self, partner: str | None, station: str | None, body: bytes) -> bool:
        """Publish a reject body on the station's ``rejected`` topic."""
        return self._publish(rejected_topic(partner, station), body, retain=False, counter="rejects_published",
                             mime=JSON_MIME)

    def warning(self, partner: str, station: str, hazard: str, body: bytes) -> bool:
        """Publish a warning JSON, retained, on its ``warning/<hazard>`` topic."""
        return self._publish(warning_topic(partner, station, hazard), body, retain=True,
                             counter="warnings_published", mime=JSON_MIME, expires_at=warning_expires_at(body))

    def cap(self, partner: str, station: str, hazard: str, xml: bytes) -> bool:
        """Publish the warning's CAP 1.2 XML, retained, on its ``cap/<hazard>`` topic."""
        return self._publish(cap_topic(partner, station, hazard), xml, retain=True, counter="caps_published",
                             mime=CAP_MIME, expires_at=cap_expires_at(xml))

    def notice(self, topic: str, body: bytes) -> bool:
        """Publish a JSON notice (an acknowledgement, a reminder, a refusal), not retained."""
        return self._publish(topic, body, retain=False, counter="notices_published", mime=JSON_MIME)

    def _properties(self, mime: str, expires_at: float | None) -> Properties | None:
        if getattr(self.client, "protocol", None) != mqtt.MQTTv5:
            return None
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = mime
        props.PayloadFormatIndicator = 1  # UTF-8 text
        if expires_at is not None:
            props.MessageExpiryInterval = max(1, int(expires_at - time.time()))
        return props

    def _publish(self, topic: str, body: bytes, retain: bool, counter: str, mime: str,
                 expires_at: float | None = None) -> bool:
        try:
            info = self.client.publish(topic, body, qos=1, retain=retain,
                                       properties=self._properties(mime, expires_at))
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


def cap_expires_at(xml: bytes) -> float | None:
    """When a CAP message expires (its first ``<expires>``), epoch seconds; None without one.

    >>> cap_expires_at(b"<alert><info><expires>2026-11-22T19:00:00+01:00</expires></info></alert>")
    1795370400.0
    >>> cap_expires_at(b"<alert/>") is None
    True
    """
    match = _CAP_EXPIRES.search(xml) if isinstance(xml, bytes) else None
    return _epoch(match.group(1).decode()) if match else None


def warning_expires_at(body: bytes) -> float | None:
    """When a warning JSON stops being news: an all-clear after its CAP validity, else never (None).

    >>> warning_expires_at(b'{"state": "cleared", "at": "2026-11-22T12:00:00Z"}') - 1795348800.0
    3600.0
    >>> warning_expires_at(b'{"state": "raised", "at": "2026-11-22T12:00:00Z"}') is None
    True
    """
    try:
        doc = orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError):
        return None
    if not isinstance(doc, dict) or doc.get("state") != "cleared":
        return None
    at = _epoch(str(doc.get("at", "")))
    return None if at is None else at + CLEARED_VALID_FOR_S


def _epoch(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("-00:00", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None
