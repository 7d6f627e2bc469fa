"""The Atom alert feed, exercised with real HTTP requests on loopback."""

from __future__ import annotations

import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from early_warning.cap import to_cap
from early_warning.messages import texts
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
    assert b'<section lang="de">' in page and b'<section lang="en">' in page
    assert "Flood watch: Hochtal gauge".encode() in page


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
    assert get(f"{server.url}/healthz") == (200, "text/plain; charset=utf-8", b"ok 1\n")
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
