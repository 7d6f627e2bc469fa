"""Warnings leave riverwatch in every partner language: MQTT JSON, CAP 1.2 (retained) and the feed."""

from __future__ import annotations

import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import orjson
import pytest
import xmlschema

from riverwatch.catalog import load_catalog
from riverwatch.contract import cap_topic, data_topic, encode_json, warning_topic
from riverwatch.model import Level, WarningEvent
from application.services import free_port
from riverwatch.settings import REPO_ROOT, Settings

from ingest.alerts import AlertRenderer
from riverwatch.storage import warning_line
from ingest.service import Service

from tests.ingest.test_service import GAUGE, WAIT, Publisher, wait_until

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
from early_warning.cap import XSD_PATH as CAP_XSD


def event(state: str, level: Level, time_ns: int) -> WarningEvent:
    return WarningEvent(id="lacville.gauge-lacville.flood.1", partner="lacville", station="gauge-lacville",
                        hazard="flood", level=level, state=state, public=True, since_ns=10**18, time_ns=time_ns,
                        detector="level_threshold", quantity="water_level", value=3.5, threshold=3.4, score=1.03)


def test_updates_reference_the_previous_cap_message_and_lines_never_collide():
    renderer = AlertRenderer(CATALOG)
    raised = renderer.render(event("raised", Level.WATCH, 10**18))
    escalated = renderer.render(event("escalated", Level.WARNING, 10**18))
    schema = xmlschema.XMLSchema(CAP_XSD)
    for alert in (raised, escalated):
        schema.validate(alert.cap_xml)
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    root = ET.fromstring(escalated.cap_xml)
    assert root.findtext("cap:msgType", namespaces=ns) == "Update"
    assert root.findtext("cap:references", namespaces=ns)
    assert {i.findtext("cap:language", namespaces=ns)[:2] for i in root.findall("cap:info", ns)} == {"fr", "en"}
    lines = [warning_line(a.event, CATALOG, renderer.line_time(a.event)) for a in (raised, escalated)]
    assert len({line.rsplit(" ", 1)[1] for line in lines}) == 2  # same instant, two points
    assert orjson.loads(escalated.json_body)["messages"].keys() == {"fr", "en"}


def test_a_running_worker_publishes_cap_retained_and_serves_the_feed(services, influx, tmp_path):
    settings = Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"alerts-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 30},
        influx={"url": services.influx_url, "database": influx.database, "flush_interval_s": 0.05},
        ingest={"detectors": ["level_threshold"], "spool_dir": tmp_path / "spool"},
        feed={"port": free_port()})
    svc = Service(settings, CATALOG)
    svc.start()
    pub = Publisher(services)
    try:
        assert svc.wait_connected(10)
        t0 = time.time() - 3600
        for i, level in enumerate([1.0, 1.5, 2.6, 3.1, 3.2, 3.3, 3.3]):
            pub.publish(data_topic(*GAUGE), encode_json(t0 + 600 * i, i, {"water_level": (level, "m")}))
        assert wait_until(lambda: svc.stats.received == 7) and svc.wait_idle(WAIT)
        late = Publisher(services, subscribe=cap_topic(*GAUGE, "flood"))
        try:
            assert wait_until(lambda: late.received)
            assert late.received[-1].retain
            xmlschema.XMLSchema(CAP_XSD).validate(late.received[-1].payload)
        finally:
            late.close()
        atom = urllib.request.urlopen(f"{svc.feed_server.url}/alerts.atom", timeout=5).read()
        entries = ET.fromstring(atom).findall("{http://www.w3.org/2005/Atom}entry")
        assert entries, "the feed lists the open warning"
        rows = influx.query_rows('SELECT "state", "since" FROM "warning" WHERE "station" = \'gauge-hochtal\'')
        assert rows and all(r["since"] for r in rows)
    finally:
        for topic in (warning_topic(*GAUGE, "flood"), cap_topic(*GAUGE, "flood")):
            pub.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
        pub.close()
        svc.stop()
