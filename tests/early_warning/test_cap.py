"""CAP 1.2 output: valid against the OASIS schema, with the lifecycle mapped to msgType/references."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from early_warning.cap import NS, XSD_PATH, assessment, message_ref, original_ref, to_cap
from early_warning.messages import HAZARDS, texts
from riverwatch.catalog import load_catalog
from riverwatch.model import WARNING_STATES, Level, WarningEvent

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "catalog" / "demo.toml")
T0 = 1_795_348_800_000_000_000  # 2026-11-22T12:00:00Z
HOUR = 3_600_000_000_000
NSMAP = {"cap": NS}
STATION = {"flood": "gauge-grenzbruecke", "water_quality": "wq-hochtal", "weather": "wx-rivertown",
           "anomaly": "wq-hochtal", "sensor": "wq-hochtal"}
QUANTITY = {"flood": "water_level", "water_quality": "turbidity", "weather": "precipitation",
            "anomaly": "conductivity", "sensor": "ph"}


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(XSD_PATH)


def event(hazard="flood", state="raised", partner="rivertown", **changes) -> WarningEvent:
    fields = dict(id=f"{partner}.{STATION[hazard]}.{hazard}.7", partner=partner, station=STATION[hazard],
                  hazard=hazard, level=Level.WATCH, state=state, public=hazard != "sensor",
                  since_ns=T0, time_ns=T0 if state == "raised" else T0 + HOUR + 123_456_789,
                  detector="level_threshold", quantity=QUANTITY[hazard], value=2.8,
                  threshold=None if hazard == "anomaly" else 2.7, score=1.04)
    fields.update(changes)
    return WarningEvent(**fields)


def cap_for(ev: WarningEvent, **kwargs) -> bytes:
    partner, station = CATALOG.partner(ev.partner), CATALOG.by_id(ev.station)
    return to_cap(ev, station, partner, texts(ev, station, partner), **kwargs)


def parse(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)


def text_of(root: ET.Element, path: str) -> list[str]:
    return [el.text for el in root.findall(path, NSMAP)]


def test_vendored_schema_is_the_oasis_cap_1_2_schema(schema):
    assert schema.target_namespace == NS
    assert "OASIS" in XSD_PATH.read_text(encoding="utf-8")[:400]


@pytest.mark.parametrize("hazard", HAZARDS)
@pytest.mark.parametrize("state", WARNING_STATES)
def test_every_hazard_and_state_is_valid_cap(schema, hazard, state):
    xml = cap_for(event(hazard, state, expected_at_ns=T0 + 3 * HOUR))
    schema.validate(xml)
    assert xml.startswith(b"<?xml") and parse(xml).tag == f"{{{NS}}}alert"


@pytest.mark.parametrize("level", [lv for lv in Level if lv])
def test_every_level_is_valid_cap(schema, level):
    schema.validate(cap_for(event(level=level, state="updated")))


def test_alert_carries_sender_identifier_and_cap_times():
    root = parse(cap_for(event()))
    assert text_of(root, "cap:sender") == ["warnings@rivertown.example"]
    assert text_of(root, "cap:identifier") == ["rivertown.gauge-grenzbruecke.flood.7.1795348800000"]
    assert text_of(root, "cap:sent") == ["2026-11-22T13:00:00+01:00"]  # Berlin, whole seconds
    assert text_of(root, "cap:status") == ["Actual"] and text_of(root, "cap:msgType") == ["Alert"]
    assert text_of(root, "cap:scope") == ["Public"] and not root.findall("cap:references", NSMAP)
    for value in text_of(root, "cap:identifier") + text_of(root, "cap:sender"):
        assert not re.search(r"[\s,<&]", value)


def test_identifier_is_stable_for_the_same_event():
    assert cap_for(event("water_quality", "updated")) == cap_for(event("water_quality", "updated"))


def test_utc_is_written_minus_zero(schema):
    partner = CATALOG.partner("rivertown").model_copy(update={"timezone": "UTC"})
    ev = event(state="escalated")
    xml = to_cap(ev, CATALOG.by_id(ev.station), partner, texts(ev, CATALOG.by_id(ev.station), partner))
    schema.validate(xml)
    assert text_of(parse(xml), "cap:sent") == ["2026-11-22T13:00:00-00:00"]


@pytest.mark.parametrize("state", ["escalated", "deescalated", "updated", "cleared"])
def test_updates_reference_the_original_alert(state):
    raised = event()
    later = event(state=state, level=Level.WARNING)
    root = parse(cap_for(later))
    assert text_of(root, "cap:msgType") == ["Update"]
    assert text_of(root, "cap:references") == [message_ref(raised, CATALOG.partner("rivertown"))]
    assert original_ref(later, CATALOG.partner("rivertown")) == message_ref(raised, CATALOG.partner("rivertown"))
    assert text_of(root, "cap:incidents") == [raised.id]


def test_update_also_references_the_previous_message(schema):
    partner = CATALOG.partner("rivertown")
    escalated = event(state="escalated", level=Level.WARNING)
    xml = cap_for(event(state="updated", level=Level.WARNING, time_ns=T0 + 2 * HOUR),
                  previous=message_ref(escalated, partner))
    schema.validate(xml)
    refs = text_of(parse(xml), "cap:references")[0].split(" ")
    assert refs == [original_ref(escalated, partner), message_ref(escalated, partner)]
    assert all(len(ref.split(",")) == 3 for ref in refs)


def test_all_clear_is_an_update_with_allclear_and_past_urgency():
    root = parse(cap_for(event(state="cleared", level=Level.WARNING)))
    assert text_of(root, "cap:msgType") == ["Update"]
    for info in root.findall("cap:info", NSMAP):
        assert text_of(info, "cap:responseType") == ["AllClear"]
        assert text_of(info, "cap:urgency") == ["Past"] and text_of(info, "cap:severity") == ["Minor"]
        assert not info.findall("cap:onset", NSMAP)


def test_one_info_per_partner_language_with_region():
    root = parse(cap_for(event("water_quality", partner="lacville", id="lacville.wq-lacville.wq.1",
                               station="wq-lacville")))
    infos = root.findall("cap:info", NSMAP)
    assert [text_of(info, "cap:language")[0] for info in infos] == ["fr-FR", "en-GB"]
    assert text_of(infos[0], "cap:event") == ["Qualité de l'eau"]
    assert text_of(infos[0], "cap:category") == ["Env"]
    assert text_of(infos[0], "cap:headline")[0].startswith("Qualité de l'eau – vigilance")
    assert text_of(infos[1], "cap:senderName") == ["Lacville"]


def test_language_without_catalog_is_not_repeated_as_english():
    partner = CATALOG.partner("rivertown").model_copy(update={"languages": ["xx", "de", "en"]})
    ev = event()
    station = CATALOG.by_id(ev.station)
    root = parse(to_cap(ev, station, partner, texts(ev, station, partner)))
    assert [text_of(i, "cap:language")[0] for i in root.findall("cap:info", NSMAP)] == ["en-GB", "de-DE"]


def test_maintenance_notice_is_restricted(schema):
    xml = cap_for(event("sensor"))
    schema.validate(xml)
    root = parse(xml)
    assert text_of(root, "cap:scope") == ["Restricted"]
    assert "not for public" in text_of(root, "cap:restriction")[0]
    assert text_of(root, "cap:info/cap:category") == ["Infra", "Infra"]
    assert text_of(root, "cap:info/cap:responseType") == ["Assess", "Assess"]


@pytest.mark.parametrize("level, expected", [
    (Level.ADVISORY, ("Future", "Minor", "Observed")),
    (Level.WATCH, ("Expected", "Moderate", "Observed")),
    (Level.WARNING, ("Expected", "Severe", "Observed")),
    (Level.EMERGENCY, ("Immediate", "Extreme", "Observed")),
])
def test_level_maps_to_urgency_severity_certainty(level, expected):
    assert assessment(event(level=level)) == expected


def test_forecasts_are_likely_and_far_ones_future():
    soon = event(level=Level.WARNING, value=2.5, expected_at_ns=T0 + HOUR)
    far = event(level=Level.WARNING, value=2.5, expected_at_ns=T0 + 5 * HOUR)
    score_only = event("anomaly", level=Level.ADVISORY)
    assert assessment(soon) == ("Expected", "Severe", "Likely")
    assert assessment(far) == ("Future", "Severe", "Likely")
    assert assessment(score_only) == ("Future", "Minor", "Possible")


def test_area_circle_around_the_station_and_optional_polygon(schema):
    polygon = [(47.95, 7.70), (47.96, 7.70), (47.96, 7.71)]
    xml = cap_for(event(), polygon=polygon, radius_km=3.5, web="http://127.0.0.1:8090/alerts/x.html")
    schema.validate(xml)
    area = parse(xml).find("cap:info/cap:area", NSMAP)
    assert text_of(area, "cap:circle") == ["47.95500,7.70200 3.5"]
    ring = text_of(area, "cap:polygon")[0].split(" ")
    assert len(ring) == 4 and ring[0] == ring[-1]
    assert "Grenzbach" in text_of(area, "cap:areaDesc")[0]


def test_parameters_carry_the_evidence():
    ev = event(corroborating=("gauge-hochtal",), details=(("upstream", "gauge-hochtal"),),
               expected_at_ns=T0 + HOUR)
    info = parse(cap_for(ev)).find("cap:info", NSMAP)
    params = {p.find("cap:valueName", NSMAP).text: p.find("cap:value", NSMAP).text
              for p in info.findall("cap:parameter", NSMAP)}
    assert params["riverwatch:value"] == "2.8" and params["riverwatch:threshold"] == "2.7"
    assert params["riverwatch:unit"] == "m" and params["riverwatch:upstream"] == "gauge-hochtal"
    assert params["riverwatch:corroborating"] == "gauge-hochtal"
    assert params["riverwatch:expected_at"] == "2026-11-22T14:00:00+01:00"


def test_each_info_links_its_own_language_page_and_the_area_carries_the_catalog_geocodes(schema):
    ev = event()
    partner, station = CATALOG.partner("rivertown"), CATALOG.by_id("gauge-grenzbruecke")
    rendered = texts(ev, station, partner, shared_with=[CATALOG.partner("lacville")])
    pages = {lang: f"https://feed.example/alerts/{ev.id}.html?lang={lang}" for lang in rendered}
    xml = to_cap(ev, station, partner, rendered, web=pages)
    schema.validate(xml)
    infos = parse(xml).findall("cap:info", NSMAP)
    assert [(i.findtext("cap:language", namespaces=NSMAP), i.findtext("cap:web", namespaces=NSMAP)) for i in infos] \
        == [("de-DE", pages["de"]), ("en-GB", pages["en"]), ("fr-FR", pages["fr"])]
    codes = [(g.findtext("cap:valueName", namespaces=NSMAP), g.findtext("cap:value", namespaces=NSMAP))
             for g in infos[0].findall("cap:area/cap:geocode", NSMAP)]
    assert codes == [("NUTS3", "DE131")]
    without = parse(cap_for(event(hazard="weather")))  # no geocodes in the catalog: none written
    assert without.find("cap:info/cap:area/cap:geocode", NSMAP) is None
    assert without.findtext("cap:info/cap:web", namespaces=NSMAP) == "https://warnungen.rivertown.example/"
