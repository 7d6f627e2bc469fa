"""The MQTT publisher on the real Mosquitto: rejects not retained, warnings and CAP retained, failures counted."""

from __future__ import annotations

import uuid

from riverwatch.contract import cap_topic, rejected_topic, warning_topic

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
