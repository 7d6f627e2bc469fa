"""Warnings leave riverwatch in every partner language: MQTT JSON, CAP 1.2 (retained) and the feed."""

from __future__ import annotations

import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import orjson
import pytest
import xmlschema

from riverwatch.catalog import Catalog, load_catalog
from riverwatch.contract import cap_topic, data_topic, encode_json, warning_topic
from riverwatch.model import Level, WarningEvent
from application.services import free_port
from riverwatch.settings import REPO_ROOT, Settings

from ingest.alerts import AlertRenderer
from ingest.feed import AlertFeed, FeedServer
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
    # Lacville shares with Rivertown: its warnings carry Rivertown's German too
    assert {i.findtext("cap:language", namespaces=ns)[:2] for i in root.findall("cap:info", ns)} == {"fr", "en", "de"}
    lines = [warning_line(a.event, CATALOG, renderer.line_time(a.event)) for a in (raised, escalated)]
    assert len({line.rsplit(" ", 1)[1] for line in lines}) == 2  # same instant, two points
    assert orjson.loads(escalated.json_body)["messages"].keys() == {"fr", "en", "de"}


def worker_settings(services, influx, tmp_path, name: str = "alerts") -> Settings:
    """A worker with the level detector and the alert feed on a free port, on the test services."""
    return Settings(
        state_dir=tmp_path / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"{name}-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 30},
        influx={"url": services.influx_url, "database": influx.database, "flush_interval_s": 0.05},
        ingest={"detectors": ["level_threshold"], "spool_dir": tmp_path / "spool"},
        feed={"port": free_port()})


def test_a_running_worker_publishes_cap_retained_and_serves_the_feed(services, influx, tmp_path):
    svc = Service(worker_settings(services, influx, tmp_path), CATALOG)
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


NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}


def catalog_with(**partner_updates: dict) -> Catalog:
    """The demo catalog with some partners changed (``lacville={"shares_with": []}``)."""
    partners = [p.model_copy(update=partner_updates.get(p.id, {})) for p in CATALOG.partners]
    return Catalog(partners=partners, stations=list(CATALOG.stations))


def updated_lacville_event() -> WarningEvent:
    return WarningEvent(id="lacville.gauge-lacville.flood.1", partner="lacville", station="gauge-lacville",
                        hazard="flood", level=Level.WARNING, state="updated", public=True, since_ns=T0,
                        time_ns=T0, detector="level_threshold", quantity="water_level", value=3.5, threshold=3.4,
                        score=1.03)


T0 = 1_795_348_800_000_000_000  # 2026-11-22 12:00 UTC


def test_a_shared_warning_reaches_the_reader_in_its_language_and_time_zone():
    catalog = catalog_with(rivertown={"timezone": "Europe/London"})
    alert = AlertRenderer(catalog).render(updated_lacville_event())
    assert list(alert.texts) == ["fr", "en", "de"]  # Lacville's languages first, then its reader's
    assert "13:00" in alert.texts["fr"].description  # Paris time for the French
    assert "12:00" in alert.texts["de"].description and "13:00" not in alert.texts["de"].description
    infos = ET.fromstring(alert.cap_xml).findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["fr-FR", "en-GB", "de-DE"]
    assert infos[2].findtext("cap:headline", namespaces=NS) == "Hochwasser-Warnung aktualisiert: Lacville pont Neuf"
    assert orjson.loads(alert.json_body)["messages"]["de"] == infos[2].findtext("cap:headline", namespaces=NS)
    alone = AlertRenderer(catalog_with(lacville={"shares_with": []})).render(updated_lacville_event())
    assert list(alone.texts) == ["fr", "en"]


def test_cap_links_each_language_to_its_page_and_carries_the_catalog_geocodes():
    schema = xmlschema.XMLSchema(CAP_XSD)
    offline = AlertRenderer(CATALOG).render(updated_lacville_event())
    schema.validate(offline.cap_xml)
    infos = ET.fromstring(offline.cap_xml).findall("cap:info", NS)
    assert {i.findtext("cap:web", namespaces=NS) for i in infos} == {"https://alertes.lacville.example/"}
    geocode = infos[0].find("cap:area/cap:geocode", NS)
    assert (geocode.findtext("cap:valueName", namespaces=NS), geocode.findtext("cap:value", namespaces=NS)) == \
        ("NUTS3", "FRF12")
    feed = AlertFeed()
    with FeedServer(feed, "127.0.0.1", 0) as server:
        served = AlertRenderer(CATALOG, feed).render(updated_lacville_event())
        schema.validate(served.cap_xml)
        for info in ET.fromstring(served.cap_xml).findall("cap:info", NS):
            lang = info.findtext("cap:language", namespaces=NS)[:2]
            web = info.findtext("cap:web", namespaces=NS)
            assert web.startswith(server.url) and web.endswith(f"?lang={lang}")
            page = urllib.request.urlopen(web, timeout=5).read().decode()
            assert f'<html lang="{lang}">' in page and served.texts[lang].headline in page.replace("&#x27;", "'")
