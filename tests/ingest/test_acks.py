"""Acknowledgements over the real broker into the real InfluxDB: stored, published back, refused."""

from __future__ import annotations

import json
import queue
import time

import paho.mqtt.client as mqtt

from early_warning.acks import AckBook
from ingest.acks import AckDesk
from riverwatch.catalog import load_catalog
from riverwatch.ack_contract import ACK_SUBSCRIPTION, ack_topic
from riverwatch.model import Level, WarningEvent
from riverwatch.settings import REPO_ROOT
from riverwatch.storage import ACK, REJECT, WARNING

from tests.helpers import wait_until

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
T0 = 1_800_000_000.0
EVENT = WarningEvent("rivertown.gauge-hochtal.flood.1", "rivertown", "gauge-hochtal", "flood", Level.WARNING,
                     "raised", True, int(T0 * 1e9), int(T0 * 1e9), "level_threshold", "water_level", 3.1,
                     3.0, 1.03)


def client(port, on_message=None):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if on_message:
        c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def test_acks_over_mqtt_are_stored_published_back_and_hostile_ones_refused(mqtt_port, influx):
    clock = iter(T0 + 60 * i for i in range(1, 100))
    desk = None
    pipeline = client(mqtt_port, lambda c, u, m: desk.on_message(m.topic, m.payload, next(clock)))
    desk = AckDesk(AckBook(CATALOG, remind_after_s=900), influx.write,
                   lambda topic, body: pipeline.publish(topic, body, qos=1))
    desk.observe(EVENT)
    back: queue.Queue = queue.Queue()
    reader = client(mqtt_port, lambda c, u, m: back.put((m.topic, json.loads(m.payload))))
    try:
        pipeline.subscribe(ACK_SUBSCRIPTION, qos=1)
        reader.subscribe("rw/v1/+/gauge-hochtal/warning/flood/ack", qos=1)
        reader.subscribe("rw/v1/+/_ack/rejected", qos=1)
        time.sleep(0.3)  # let the subscriptions settle
        operator = client(mqtt_port)
        good = json.dumps({"by": "jean", "role": "operator", "comment": "vu", "action": "sirènes"})
        operator.publish(ack_topic("lacville", EVENT.id), good, qos=1)
        topic, body = back.get(timeout=10)
        assert topic == "rw/v1/rivertown/gauge-hochtal/warning/flood/ack"
        # published to every partner that reads the warning: role and partner, not the person's name
        # (no agreement of the demo catalog shares operators' names); the name is stored below
        assert (body["type"], body["partner"], body["role"], body["by"], body["after_s"], body["action"]) == (
            "ack", "lacville", "operator", "", 60.0, "sirènes")
        hostile = [(ack_topic("lacville", EVENT.id), good, "ack_replayed"),
                   (ack_topic("rivertown", "rivertown.gauge-hochtal.flood.2"), good, "ack_unknown_warning"),
                   (ack_topic("rivertown", EVENT.id), good.replace("operator", "admin"), "ack_forged_role"),
                   (ack_topic("rivertown", EVENT.id), "x" * 5000, "ack_oversize")]
        for topic, payload, _ in hostile:
            operator.publish(topic, payload, qos=1)
        refusals = [back.get(timeout=10)[1]["reason"] for _ in hostile]
        assert refusals == [reason for _, _, reason in hostile]
        assert wait_until(lambda: len(influx.query_rows(f'SELECT * FROM "{REJECT}"')) == 4, 10)
        rows = influx.query_rows(f'SELECT * FROM "{ACK}" WHERE "kind" = \'ack\'')
        assert [(r["partner"], r["role"], r["by"], r["comment"]) for r in rows] == [
            ("lacville", "operator", "jean", "vu")]
        assert desk.accepted == 1 and sum(desk.refused.values()) == 4
        operator.disconnect()
        operator.loop_stop()
    finally:
        for c in (pipeline, reader):
            c.disconnect()
            c.loop_stop()


def test_unacknowledged_warning_is_re_announced_stored_and_counted(influx):
    published = []
    desk = AckDesk(AckBook(CATALOG, remind_after_s=900), influx.write,
                   lambda topic, body: published.append((topic, json.loads(body))))
    desk.observe(EVENT)
    assert desk.remind(T0 + 600) == []
    assert [e.id for e in desk.remind(T0 + 900)] == [EVENT.id]
    assert [e.id for e in desk.remind(T0 + 1800)] == [EVENT.id]
    assert desk.reminders == 2
    rows = influx.query_rows(f'SELECT * FROM "{ACK}"')
    assert [(r["kind"], r["id"], r["partner"], r["after_s"]) for r in rows] == [
        ("reminder", EVENT.id, "rivertown", 900.0), ("reminder", EVENT.id, "rivertown", 1800.0)]
    assert influx.query_rows(f'SELECT * FROM "{WARNING}"') == []
    assert [b["type"] for _, b in published] == ["reminder", "reminder"]


def _post(url, body, token=None):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=body, method="POST")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_http_ack_needs_the_partners_token_and_is_stored(influx):
    from ingest.acks import HttpAcks, locked
    from ingest.feed import AlertFeed, FeedServer
    published = []
    desk = AckDesk(AckBook(CATALOG), influx.write, lambda topic, body: published.append(topic))
    desk.observe(EVENT)
    acks = HttpAcks(locked(desk, clock=lambda: T0 + 90), {"rivertown": "t-rivertown", "lacville": "t-lacville"})
    server = FeedServer(AlertFeed(), "127.0.0.1", 0, acks=acks).start()
    url = f"{server.url}/alerts/{EVENT.id}/ack"
    body = json.dumps({"by": "anna", "role": "operator", "comment": "ok"}).encode()
    try:
        assert _post(url, body)[0] == 401
        assert _post(url, body, "t-guess") == (401, {"reason": "ack_unauthorized"})
        status, answer = _post(url, body, "t-rivertown")
        assert (status, answer["partner"], answer["after_s"]) == (200, "rivertown", 90.0)
        assert _post(url, body, "t-rivertown") == (409, {"reason": "ack_replayed"})
        assert _post(f"{server.url}/alerts/nope/ack", body, "t-lacville") == (409, {"reason": "ack_unknown_warning"})
    finally:
        server.stop()
    rows = influx.query_rows(f'SELECT * FROM "{ACK}" WHERE "kind" = \'ack\'')
    assert [(r["partner"], r["by"], r["comment"]) for r in rows] == [("rivertown", "anna", "ok")]
    assert published.count("rw/v1/rivertown/gauge-hochtal/warning/flood/ack") == 1
