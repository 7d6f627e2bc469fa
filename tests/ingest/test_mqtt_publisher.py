"""The MQTT publisher on the real Mosquitto: rejects not retained, warnings and CAP retained, failures counted."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from riverwatch.contract import cap_topic, format_time, rejected_topic, warning_topic

from tests.helpers import Publisher, wait_until

from ingest.mqtt_publisher import MqttPublisher


def test_rejects_warnings_and_cap_go_to_their_topics_with_their_retain_flags(services):
    partner, station = f"test-{uuid.uuid4().hex[:8]}", "gauge"
    watcher = Publisher(services, subscribe=f"rw/v1/{partner}/#")
    sender = Publisher(services)
    publisher = MqttPublisher(sender.client)
    try:
        assert publisher.reject(partner, station, b'{"reason": "bad_json"}')
        assert publisher.warning(partner, station, "flood", b'{"level": "warning"}')
        assert publisher.cap(partner, station, "flood", b"<alert/>")
        assert wait_until(lambda: len(watcher.received) == 3, 10)
        got = {m.topic: (m.payload, bool(m.retain)) for m in watcher.received}
        assert got == {rejected_topic(partner, station): (b'{"reason": "bad_json"}', False),
                       warning_topic(partner, station, "flood"): (b'{"level": "warning"}', False),
                       cap_topic(partner, station, "flood"): (b"<alert/>", False)}  # live delivery: retain unset
        late = Publisher(services, subscribe=f"rw/v1/{partner}/#")  # a late subscriber gets the retained ones
        try:
            assert wait_until(lambda: len(late.received) == 2, 10)
            assert {m.topic for m in late.received if m.retain} == {warning_topic(partner, station, "flood"),
                                                                   cap_topic(partner, station, "flood")}
        finally:
            late.close()
        assert (publisher.rejects_published, publisher.warnings_published, publisher.caps_published,
                publisher.publish_errors) == (1, 1, 1, 0)
    finally:
        for topic in (warning_topic(partner, station, "flood"), cap_topic(partner, station, "flood")):
            sender.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
        watcher.close()
        sender.close()


def test_a_payload_paho_refuses_is_counted_and_not_raised(services):
    sender = Publisher(services)
    publisher = MqttPublisher(sender.client)
    try:
        assert not publisher.reject(None, None, ["not", "bytes"])  # paho raises on a payload it cannot send
        assert publisher.publish_errors == 1 and publisher.rejects_published == 0
    finally:
        sender.close()


def test_retained_warning_and_cap_say_their_content_type_and_expire_with_their_validity(services):
    """A real MQTT 5 subscriber on the real broker reads the properties of the retained messages."""
    partner, station = f"test-{uuid.uuid4().hex[:8]}", "gauge"
    sender = Publisher(services)
    publisher = MqttPublisher(sender.client)
    now = time.time()
    cap_expires = datetime.fromtimestamp(int(now) + 6 * 3600, timezone.utc).astimezone(ZoneInfo("Europe/Paris"))
    cap = (f'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><info><expires>{cap_expires.isoformat()}'
           f"</expires></info></alert>").encode()
    cleared = orjson.dumps({"state": "cleared", "at": format_time(now - 600)})
    raised = orjson.dumps({"state": "raised", "at": format_time(now)})
    try:
        assert publisher.cap(partner, station, "flood", cap)
        assert publisher.warning(partner, station, "flood", cleared)
        assert publisher.warning(partner, station, "water_quality", raised)
        late = Publisher(services, subscribe=f"rw/v1/{partner}/#")
        try:
            assert wait_until(lambda: len(late.received) == 3, 10)
            props = {m.topic: m.properties for m in late.received}
        finally:
            late.close()
        cap_props = props[cap_topic(partner, station, "flood")]
        assert cap_props.ContentType == "application/cap+xml" and cap_props.PayloadFormatIndicator == 1
        assert 6 * 3600 - 60 <= cap_props.MessageExpiryInterval <= 6 * 3600
        cleared_props = props[warning_topic(partner, station, "flood")]
        assert cleared_props.ContentType == "application/json"
        assert 3000 - 60 <= cleared_props.MessageExpiryInterval <= 3000  # an hour after the all-clear
        assert not hasattr(props[warning_topic(partner, station, "water_quality")], "MessageExpiryInterval")
    finally:
        for hazard in ("flood", "water_quality"):
            for topic in (warning_topic(partner, station, hazard), cap_topic(partner, station, hazard)):
                sender.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
        sender.close()


def test_an_mqtt_311_client_publishes_without_properties(services):
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"v311-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311)
    client.connect(services.mqtt_host, services.mqtt_port)
    client.loop_start()
    watcher = Publisher(services, subscribe="rw/v1/_system/#")
    try:
        publisher = MqttPublisher(client)
        assert publisher.reject(None, None, b'{"reason": "bad_json"}')
        assert wait_until(lambda: watcher.received, 10) and publisher.publish_errors == 0
    finally:
        watcher.close()
        client.disconnect()
        client.loop_stop()
