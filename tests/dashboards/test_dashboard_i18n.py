"""Partner dashboards speak the partner's language and show its time zone."""

from __future__ import annotations

from riverwatch.catalog import load_catalog
from riverwatch.settings import REPO_ROOT, Settings
from riverwatch.units import QUANTITIES

from dashboards.build import to_dict
from dashboards.i18n import TEXTS, missing_translations
from dashboards.provisioning import boards

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
SETTINGS = Settings(ingest={"detectors": ["level_threshold", "rate_of_rise", "sensor_fault"]})


def partner_station_doc(partner_id: str) -> dict:
    board = next(b for b in boards(SETTINGS, CATALOG) if b.uid == f"rw-station-{partner_id}")
    return to_dict(board.model)


def test_german_partner_station_dashboard_is_german_in_berlin_time():
    partner = next(p for p in CATALOG.partners if p.languages[0] == "de")
    doc = partner_station_doc(partner.id)
    titles = [p["title"] for p in doc["panels"]]
    assert doc["timezone"] == partner.timezone == "Europe/Berlin"
    assert doc["title"].startswith("Riverwatch — Messstelle")
    assert {"Zustand", "Letzter Messwert", "Offene Warnungen", "Warnereignisse"} <= set(titles)
    assert "State" not in titles
    rows = [p["title"] for p in doc["panels"] if p["type"] == "row"]
    assert "Messwerte: Pegel" in rows and "Wasserstand (m)" in [p["title"] for r in doc["panels"]
                                                                 for p in [r, *r.get("panels", [])]]


def test_french_partner_station_dashboard_is_french_in_paris_time():
    partner = next(p for p in CATALOG.partners if p.languages[0] == "fr")
    doc = partner_station_doc(partner.id)
    assert doc["timezone"] == "Europe/Paris"
    assert "État" in [p["title"] for p in doc["panels"]]


def test_shared_station_dashboard_stays_english_utc():
    doc = to_dict(boards(SETTINGS, CATALOG)[1].model)
    assert doc["timezone"] == "utc"
    assert "State" in [p["title"] for p in doc["panels"]]


def test_every_text_exists_in_every_partner_language():
    languages = {lang for p in CATALOG.partners for lang in p.languages}
    assert missing_translations(languages) == []
    assert {f"quantity.{q}" for q in QUANTITIES} <= set(TEXTS)
    assert all(all(t.strip() for t in texts.values()) for texts in TEXTS.values())


def test_each_partner_has_its_own_overview_in_its_language_and_zone():
    by_uid = {b.uid: b for b in boards(SETTINGS, CATALOG)}
    for partner in CATALOG.partners:
        board = by_uid[f"rw-overview-{partner.id}"]
        doc = to_dict(board.model)
        assert board.folder.uid == f"rw-{partner.id}"
        assert doc["timezone"] == partner.timezone
        table = next(p for p in doc["panels"] if p["type"] == "table")
        queries = [t["query"] for p in doc["panels"] for t in p["targets"]]
        assert all(f"\"partner\" = '{partner.id}'" in q for q in queries)
        links = table["fieldConfig"]["defaults"]["links"]
        assert links[0]["url"].startswith(f"d/rw-station-{partner.id}/")
    german = to_dict(by_uid["rw-overview-rivertown"].model)
    headers = next(p for p in german["panels"] if p["type"] == "table")["transformations"][-1]["options"]
    assert german["title"].startswith("Riverwatch — Übersicht")
    assert {"Stufe", "Messstelle", "seit", "Meldung"} <= set(headers["renameByName"].values())
    state = next(p for p in german["panels"] if p["type"] == "geomap")["fieldConfig"]["defaults"]["mappings"]
    assert state[0]["options"]["4"]["text"] == "Warnung"


def _urls(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "url" and isinstance(value, str):
                yield value
            yield from _urls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _urls(item)


def test_every_dashboard_link_is_relative():
    urls = [url for b in boards(SETTINGS, CATALOG) for url in _urls(to_dict(b.model))]
    assert urls and all(not url.startswith(("/", "http:", "https:")) for url in urls), urls
