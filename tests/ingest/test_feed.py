"""The Atom alert feed, exercised with real HTTP requests on loopback."""

from __future__ import annotations

import dataclasses
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from early_warning.cap import to_cap
from early_warning.messages import texts
from ingest.alerts import AlertRenderer
from ingest.feed import ATOM_NS, CAP_MIME, AlertFeed, FeedServer
from riverwatch.catalog import load_catalog
from riverwatch.errors import ServiceError
from riverwatch.model import Level, WarningEvent

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "catalog" / "demo.toml")
T0 = 1_795_348_800_000_000_000
HOUR = 3_600_000_000_000
A = {"a": ATOM_NS}
TIMEOUT = 10


class Clock:
    """A hand-driven wall clock."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def served(clock):
    feed = AlertFeed(clock=clock, cleared_ttl_s=600)
    server = FeedServer(feed, "127.0.0.1", 0).start()
    try:
        yield feed, server
    finally:
        server.stop()


def event(state="raised", *, hazard="flood", station="gauge-hochtal", time_ns=T0, public=True,
          level=Level.WATCH, quantity="water_level") -> WarningEvent:
    return WarningEvent(id=f"rivertown.{station}.{hazard}.1", partner="rivertown", station=station,
                        hazard=hazard, level=level, state=state, public=public, since_ns=T0,
                        time_ns=time_ns, detector="level_threshold", quantity=quantity, value=2.6,
                        threshold=2.5, score=1.04)


def publish(feed: AlertFeed, ev: WarningEvent, station=None) -> bytes:
    partner, station = CATALOG.partner(ev.partner), station or CATALOG.by_id(ev.station)
    rendered = texts(ev, station, partner)
    xml = to_cap(ev, station, partner, rendered)
    feed.publish(ev, xml, rendered)
    return xml


def get(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def atom(server: FeedServer, query: str = "") -> ET.Element:
    status, mime, body = get(f"{server.url}/alerts.atom{query}")
    assert status == 200 and mime.startswith("application/atom+xml")
    return ET.fromstring(body)


def test_empty_feed_is_valid_atom(served):
    _, server = served
    root = atom(server)
    assert root.tag == f"{{{ATOM_NS}}}feed"
    for tag in ("id", "title", "updated", "author/a:name"):
        assert root.find(f"a:{tag}", A) is not None
    assert root.findall("a:entry", A) == []


def test_entry_links_to_cap_and_html(served):
    feed, server = served
    cap_xml = publish(feed, event())
    entries = atom(server).findall("a:entry", A)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.find("a:title", A).text == "Hochwasser-Vorwarnung: Hochtal gauge"  # first language
    assert entry.find("a:id", A).text == "urn:riverwatch:warning:rivertown.gauge-hochtal.flood.1"
    links = {link.get("type"): link.get("href") for link in entry.findall("a:link", A)}
    status, mime, body = get(links[CAP_MIME])
    assert status == 200 and mime.startswith(CAP_MIME) and body == cap_xml
    status, mime, page = get(links["text/html"])
    assert status == 200 and mime.startswith("text/html")
    assert page.startswith(b'<!DOCTYPE html><html lang="de">') and "Hochwasser-Vorwarnung".encode() in page
    assert "Flood watch: Hochtal gauge".encode() not in page  # one language per page, links to the others
    assert b'hreflang="en"' in page
    status, _, english = get(f"{links['text/html'].split('?')[0]}?lang=en")
    assert status == 200 and b'<html lang="en">' in english and "Flood watch: Hochtal gauge".encode() in english


def test_feed_language_can_be_chosen(served):
    feed, server = served
    publish(feed, event())
    assert atom(server, "?lang=en").find("a:entry/a:title", A).text == "Flood watch: Hochtal gauge"
    assert atom(server, "?lang=zz").find("a:entry/a:title", A).text.startswith("Hochwasser")


def test_html_page_escapes_catalog_text(served):
    feed, server = served
    station = CATALOG.by_id("gauge-hochtal").model_copy(update={"name": "Pont <script>&"})
    publish(feed, event(), station=station)
    _, _, page = get(f"{server.url}/alerts/rivertown.gauge-hochtal.flood.1.html")
    assert b"<script>" not in page and b"Pont &lt;script&gt;&amp;" in page
    ET.fromstring(atom_bytes := get(f"{server.url}/alerts.atom")[2])  # still well-formed XML
    assert b"Pont &lt;script&gt;&amp;" in atom_bytes


def test_updates_replace_the_entry_and_older_events_do_not(served):
    feed, server = served
    publish(feed, event())
    newer = publish(feed, event("escalated", time_ns=T0 + HOUR, level=Level.WARNING))
    publish(feed, event("updated", time_ns=T0 + HOUR // 2))  # late, older: ignored
    assert len(atom(server).findall("a:entry", A)) == 1
    assert get(f"{server.url}/alerts/rivertown.gauge-hochtal.flood.1.xml")[2] == newer
    assert [a.event.state for a in feed.open_alerts()] == ["escalated"]


def test_all_clear_stays_listed_for_its_ttl(served, clock):
    feed, server = served
    publish(feed, event())
    publish(feed, event("cleared", time_ns=T0 + 2 * HOUR))
    assert feed.open_alerts() == []
    categories = {c.get("term") for c in atom(server).findall("a:entry/a:category", A)}
    assert "cleared" in categories
    clock.now += 601
    assert atom(server).findall("a:entry", A) == []
    assert get(f"{server.url}/alerts/rivertown.gauge-hochtal.flood.1.xml")[0] == 200  # page kept


def test_maintenance_notices_are_not_served_publicly(served):
    feed, server = served
    publish(feed, event(hazard="sensor", station="wq-hochtal", public=False, quantity="ph"))
    assert [a.event.hazard for a in feed.open_alerts()] == ["sensor"]
    assert atom(server).findall("a:entry", A) == []
    assert get(f"{server.url}/alerts/rivertown.wq-hochtal.sensor.1.xml")[0] == 404


def test_operators_feed_includes_restricted_notices(clock):
    feed = AlertFeed(include_restricted=True, clock=clock)
    publish(feed, event(hazard="sensor", station="wq-hochtal", public=False, quantity="ph"))
    with FeedServer(feed, "127.0.0.1", 0) as server:
        assert len(atom(server).findall("a:entry", A)) == 1


def test_health_head_and_not_found(served):
    feed, server = served
    publish(feed, event())
    assert get(f"{server.url}/healthz")[0] == 404  # the worker's health is on its metrics port (ingest.health)
    status, _, body = get(f"{server.url}/alerts.atom", method="HEAD")
    assert status == 200 and body == b""
    assert get(f"{server.url}/alerts/nope.xml")[0] == 404
    assert get(f"{server.url}/alerts/rivertown.gauge-hochtal.flood.1.pdf")[0] == 404
    assert get(f"{server.url}/etc/passwd")[0] == 404


def test_busy_port_is_a_service_error(served):
    _, server = served
    with pytest.raises(ServiceError, match="cannot listen"):
        FeedServer(AlertFeed(), "127.0.0.1", server.port).start()


def test_public_url_is_used_in_links(clock):
    feed = AlertFeed(clock=clock)
    publish(feed, event())
    with FeedServer(feed, "127.0.0.1", 0, public_url="https://alerts.example/rw/") as server:
        assert server.url == "https://alerts.example/rw"
        body = feed.atom(server.url)
    assert b'href="https://alerts.example/rw/alerts/rivertown.gauge-hochtal.flood.1.xml"' in body


XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def lacville_event(state="raised", time_ns=T0) -> WarningEvent:
    return WarningEvent(id="lacville.gauge-lacville.flood.1", partner="lacville", station="gauge-lacville",
                        hazard="flood", level=Level.WARNING, state=state, public=True, since_ns=T0, time_ns=time_ns,
                        detector="level_threshold", quantity="water_level", value=3.5, threshold=3.4, score=1.03)


def test_one_feed_per_language(served):
    feed, server = served
    AlertRenderer(CATALOG, feed).render(lacville_event())
    AlertRenderer(CATALOG, feed).render(event())
    for lang, title in (("de", "riverwatch – Warnungen"), ("fr", "riverwatch – alertes")):
        status, mime, body = get(f"{server.url}/alerts.{lang}.atom")
        assert status == 200 and mime.startswith("application/atom+xml")
        root = ET.fromstring(body)
        assert root.get(XML_LANG) == lang and root.find("a:title", A).text == title
        entries = root.findall("a:entry", A)
        assert len(entries) == 2 and {e.get(XML_LANG) for e in entries} == {lang}  # shared: both in the language
        assert all(link.get("href").endswith(f"?lang={lang}") for link in root.findall("a:entry/a:link[@type='text/html']", A))
    alternates = atom(server).findall("a:link[@rel='alternate']", A)
    assert {link.get("hreflang") for link in alternates} >= {"de", "en", "fr"}
    assert get(f"{server.url}/alerts.zz.atom")[0] == 404


def test_index_lists_the_warnings_in_the_readers_language(served):
    feed, server = served
    status, mime, empty = get(f"{server.url}/?lang=de")
    assert status == 200 and mime.startswith("text/html") and "Keine aktiven Warnungen.".encode() in empty
    AlertRenderer(CATALOG, feed).render(lacville_event())
    request = urllib.request.Request(f"{server.url}/", headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"})
    page = urllib.request.urlopen(request, timeout=TIMEOUT).read().decode()
    assert '<html lang="fr">' in page and "Alertes en cours" in page and "Crue – alerte : Lacville pont Neuf" in page
    assert "lacville.gauge-lacville.flood.1.html?lang=fr" in page


def test_alert_page_is_local_labelled_coloured_and_mapped(served):
    feed, server = served
    AlertRenderer(CATALOG, feed).render(lacville_event())
    _, _, page = get(f"{server.url}/alerts/lacville.gauge-lacville.flood.1.html?lang=de")
    text = page.decode()
    for label in ("Warnstufe", "Messstelle", "Gewässer", "Koordinaten", "Letzte Aktualisierung"):
        assert label in text
    assert "Lacville pont Neuf" in text and "gauge-lacville" not in text.split("<footer>")[0].split("</style>")[1]
    assert "22. Nov. 2026, 13:00 MEZ" in text  # local time with its zone, not UTC
    assert 'class="banner warning"' in text and "47.99800° N, 7.54100° E" in text
    assert text.count("<circle") == 3 and "Hochtal gauge" in text  # the gauges along the river


def test_a_newer_warning_of_the_same_station_and_hazard_replaces_the_older(served):
    feed, server = served
    publish(feed, event())
    newer = dataclasses.replace(event(time_ns=T0 + HOUR), id="rivertown.gauge-hochtal.flood.2")
    publish(feed, newer)
    assert [a.id for a in feed.listed()] == ["rivertown.gauge-hochtal.flood.2"]


def test_index_without_a_known_language_is_in_english(served):
    _, server = served
    request = urllib.request.Request(f"{server.url}/?lang=zz", headers={"Accept-Language": "pt-BR"})
    assert '<html lang="en">' in urllib.request.urlopen(request, timeout=TIMEOUT).read().decode()
