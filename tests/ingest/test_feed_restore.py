"""The alert feed comes back after a restart: from the checkpoint's book, or from InfluxDB's warning rows."""

from __future__ import annotations

import time
import urllib.request
import xml.etree.ElementTree as ET

from riverwatch.catalog import load_catalog
from riverwatch.contract import cap_topic, data_topic, encode_json, warning_topic
from riverwatch.model import Level, WarningEvent
from riverwatch.settings import REPO_ROOT
from riverwatch.storage import warning_line

from tests.helpers import Publisher, wait_until
from tests.ingest.test_alerts import worker_settings

from ingest.alerts import AlertRenderer
from ingest.feed import AlertFeed
from ingest.feed_restore import restore_alerts, stored_events
from ingest.service import Service

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
GAUGE = ("rivertown", "gauge-hochtal")
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def feed_titles(svc: Service) -> list[str]:
    body = urllib.request.urlopen(f"{svc.feed_server.url}/alerts.en.atom", timeout=5).read()
    return [e.findtext(f"{ATOM}title") for e in ET.fromstring(body).findall(f"{ATOM}entry")]


def test_a_restarted_worker_serves_its_open_warnings_before_any_new_reading(services, influx, tmp_path):
    settings = worker_settings(services, influx, tmp_path, "restore")
    first = Service(settings, CATALOG)
    pub = Publisher(services)
    first.start()
    try:
        assert first.wait_connected(10)
        t0 = time.time() - 3600
        for i, level in enumerate([1.0, 2.6, 3.1]):
            pub.publish(data_topic(*GAUGE), encode_json(t0 + 600 * i, i, {"water_level": (level, "m")}))
        assert wait_until(lambda: first.stats.received == 3) and first.wait_idle(30)
        before = feed_titles(first)
        assert "Flood watch: Hochtal gauge" in before  # and the warnings it propagates downstream
    finally:
        first.stop()
    warning_id = next(a.id for a in first.feed.listed() if a.event.station == GAUGE[1])
    for source in ("checkpoint", "influxdb"):
        if source == "influxdb":
            first.checkpoint_path.unlink()  # a new state folder: the warning rows alone
        again = Service(settings, CATALOG)
        again.start()
        try:
            assert sorted(feed_titles(again)) == sorted(before), source
            assert again.stats.received == 0
            # the next message of the warning references its last one, as if there had been no restart
            assert again.alerts._previous.get(warning_id), source
        finally:
            again.stop()
        before = [a.text("en").headline for a in again.feed.listed()]  # what the next start must serve
    for topic in (warning_topic(*GAUGE, "flood"), cap_topic(*GAUGE, "flood")):
        pub.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
    pub.close()


def event(state: str, time_ns: int, level: Level = Level.WATCH) -> WarningEvent:
    return WarningEvent(id="lacville.gauge-lacville.flood.7", partner="lacville", station="gauge-lacville",
                        hazard="flood", level=level, state=state, public=True, since_ns=10**18, time_ns=time_ns,
                        detector="level_threshold", quantity="water_level", value=3.0, threshold=2.9, score=1.03,
                        expected_at_ns=time_ns + 3_600_000_000_000, corroborating=("gauge-grenzbruecke",),
                        message_key="flood.upstream", details=(("upstream_name", "Hochtal gauge"),))


def test_warning_rows_give_back_the_events_they_were_written_from(influx):
    now_ns = time.time_ns()
    raised, escalated = event("raised", now_ns - 10**12), event("escalated", now_ns, Level.WARNING)
    influx.write("\n".join(warning_line(e, CATALOG) for e in (raised, escalated)))
    assert stored_events(influx) == [escalated]


def test_with_a_checkpoint_a_warning_the_book_no_longer_holds_is_not_brought_back(influx):
    now_ns = time.time_ns()
    influx.write(warning_line(event("raised", now_ns), CATALOG))
    feed = AlertFeed()
    assert restore_alerts(AlertRenderer(CATALOG, feed), influx, [], from_checkpoint=True) == 0
    assert feed.listed() == []
    assert restore_alerts(AlertRenderer(CATALOG, feed), influx, [], from_checkpoint=False) == 1
    assert [a.event.state for a in feed.listed()] == ["raised"]
    cap = ET.fromstring(feed.listed()[0].cap_xml)
    assert {i.findtext(f"{CAP}language") for i in cap.findall(f"{CAP}info")} == {"fr-FR", "en-GB", "de-DE"}


def test_an_all_clear_restored_leaves_the_feed_when_its_time_is_up(influx):
    now_ns = time.time_ns()
    influx.write(warning_line(event("cleared", now_ns - 2 * 3_600_000_000_000, Level.NONE), CATALOG))
    feed = AlertFeed(cleared_ttl_s=3600)
    assert restore_alerts(AlertRenderer(CATALOG, feed), influx, [], from_checkpoint=True) == 1
    assert feed.listed() == []  # cleared two hours ago: past its hour in the feed
