"""Message catalogs: complete in every language, consistent placeholders, English fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from early_warning import messages
from early_warning.messages import (HAZARDS, LOCALES_DIR, PLACEHOLDERS, load_catalogs, placeholders,
                                render, required_keys, texts)
from riverwatch.catalog import load_catalog
from riverwatch.model import WARNING_STATES, Level, WarningEvent

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "catalog" / "demo.toml")
LANGS = sorted(load_catalogs())
T0 = 1_795_348_800_000_000_000  # 2026-11-22T12:00:00Z
HOUR = 3_600_000_000_000
QUANTITY = {"flood": "water_level", "water_quality": "turbidity", "weather": "wind_speed",
            "anomaly": "conductivity", "sensor": "ph"}
STATION = {"flood": "gauge-hochtal", "water_quality": "wq-hochtal", "weather": "wx-rivertown",
           "anomaly": "wq-hochtal", "sensor": "wq-lacville"}


def event(hazard: str = "flood", state: str = "raised", **changes) -> WarningEvent:
    fields = dict(id=f"rivertown.{STATION[hazard]}.{hazard}.1", partner="rivertown",
                  station=STATION[hazard], hazard=hazard, level=Level.WATCH, state=state,
                  public=hazard != "sensor", since_ns=T0, time_ns=T0 + HOUR, detector="level_threshold",
                  quantity=QUANTITY[hazard], value=2.61, threshold=None if hazard == "anomaly" else 2.5,
                  score=1.04)
    fields.update(changes)
    return WarningEvent(**fields)


def test_the_three_required_languages_have_catalogs():
    assert {"en", "de", "fr"} <= set(LANGS)


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_is_in_every_catalog(lang):
    missing = [key for key in required_keys() if key not in load_catalogs()[lang]]
    assert not missing, f"{lang}.po lacks {missing}"


@pytest.mark.parametrize("lang", LANGS)
def test_catalogs_hold_no_unknown_keys(lang):
    # review.* belong to the after-action review, whose own test checks them (tests/review/test_i18n.py)
    unknown = {key for key in set(load_catalogs()[lang]) - set(required_keys()) if not key.startswith("review.")}
    assert not unknown, f"{lang}.po has keys nobody renders (typos?): {sorted(unknown)}"


@pytest.mark.parametrize("lang", LANGS)
def test_placeholders_match_english_and_are_known(lang):
    english, catalog = load_catalogs()["en"], load_catalogs()[lang]
    for key, text in catalog.items():
        assert placeholders(text) == placeholders(english[key]), f"{lang}.po {key}"
        assert placeholders(text) <= set(PLACEHOLDERS), f"{lang}.po {key}"


@pytest.mark.parametrize("lang", LANGS)
def test_po_files_parse_cleanly(lang):
    with (LOCALES_DIR / f"{lang}.po").open("rb") as fileobj:
        po = read_po(fileobj, abort_invalid=True)
    assert not [msg.id for msg in po if msg.id and msg.fuzzy]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("hazard", HAZARDS)
@pytest.mark.parametrize("state", WARNING_STATES)
def test_every_message_renders(lang, hazard, state):
    st = CATALOG.by_id(STATION[hazard])
    text = render(event(hazard, state, expected_at_ns=T0 + 3 * HOUR), st, lang, "Europe/Berlin",
                  upstream=CATALOG.by_id("gauge-hochtal"))
    for part in (text.headline, text.description, text.instruction):
        assert part and "{" not in part and "}" not in part
    assert st.name in text.headline
    assert text.lang == lang


def test_texts_cover_the_partner_languages_in_its_time_zone():
    partner, st = CATALOG.partner("rivertown"), CATALOG.by_id("gauge-grenzbruecke")
    ev = event(expected_at_ns=T0 + 3 * HOUR, value=2.614, threshold=2.7)
    rendered = texts(ev, st, partner, upstream=CATALOG.by_id("gauge-hochtal"))
    assert list(rendered) == partner.languages == ["de", "en"]
    de, en = rendered["de"], rendered["en"]
    assert de.headline == "Hochwasser-Vorwarnung: Grenzbrücke gauge (border)"
    assert "2,61 m" in de.description and "2,7 m" in de.description
    assert "2.61 m" in en.description
    assert "16:00 MEZ" in de.description and "16:00 CET" in en.description  # 15:00Z in Berlin
    assert "Hochtal gauge" in de.description and "upstream station Hochtal gauge" in en.description


def test_lacville_reads_french_in_paris_time():
    partner = CATALOG.partner("lacville")
    rendered = texts(event("water_quality", "escalated", level=Level.WARNING, value=120.0,
                           threshold=100.0), CATALOG.by_id("wq-lacville"), partner)
    assert set(rendered) == {"fr", "en"}
    assert rendered["fr"].headline == "Qualité de l'eau – passage en alerte : Lacville prise d'eau"
    assert "Turbidité" in rendered["fr"].description and "120 NTU" in rendered["fr"].description


def test_cleared_text_has_no_forecast_and_names_the_start():
    text = render(event(state="cleared", expected_at_ns=T0 + 5 * HOUR), CATALOG.by_id("gauge-hochtal"),
                  "en", "UTC")
    assert "expected" not in text.description
    assert "12:00 UTC" in text.description  # since


def test_missing_key_falls_back_to_english_and_is_reported_once(monkeypatch, caplog):
    catalogs = {lang: dict(cat) for lang, cat in load_catalogs().items()}
    del catalogs["de"]["flood.raised.instruction"]
    monkeypatch.setattr(messages, "load_catalogs", lambda: catalogs)
    monkeypatch.setattr(messages, "_MISSING", messages.Counter())
    st = CATALOG.by_id("gauge-hochtal")
    with caplog.at_level(logging.WARNING, logger="early_warning.messages"):
        first = render(event(), st, "de", "Europe/Berlin")
        render(event(), st, "de", "Europe/Berlin")
    assert first.instruction == catalogs["en"]["flood.raised.instruction"]
    assert first.headline.startswith("Hochwasser")  # the rest stays German
    assert messages.missing_translations() == {("de", "flood.raised.instruction"): 2}
    assert len([r for r in caplog.records if "flood.raised.instruction" in r.getMessage()]) == 1


def test_language_without_catalog_is_rendered_in_english(monkeypatch):
    monkeypatch.setattr(messages, "_MISSING", messages.Counter())
    partner = CATALOG.partner("rivertown").model_copy(update={"languages": ["xx", "en"]})
    rendered = texts(event(), CATALOG.by_id("gauge-hochtal"), partner)
    assert rendered["xx"].lang == "en" and rendered["xx"] == rendered["en"]
    assert messages.missing_translations()[("xx", "*")] == 1


def test_unknown_time_zone_falls_back_to_utc():
    text = render(event(state="updated"), CATALOG.by_id("gauge-hochtal"), "en", "Mars/Olympus")
    assert "13:00 UTC" in text.description


def test_forecast_event_announces_the_crossing_instead_of_claiming_it():
    ev = event(level=Level.WARNING, state="escalated", value=3.2, threshold=3.4,
               expected_at_ns=T0 + 2 * HOUR, detector="propagation")
    text = render(ev, CATALOG.by_id("gauge-lacville"), "en", "Europe/Paris",
                  upstream=CATALOG.by_id("gauge-grenzbruecke"))
    assert "expected to reach the warning threshold of 3.4 m around 22 Nov 2026, 15:00 CET" in text.description
    assert "beyond" not in text.description
    assert text.description.endswith("upstream station Grenzbrücke gauge (border).")


def test_crossed_value_with_a_forecast_time_keeps_the_observed_text():
    ev = event(level=Level.WARNING, value=3.5, threshold=3.4, expected_at_ns=T0 + 4 * HOUR)
    text = render(ev, CATALOG.by_id("gauge-lacville"), "de", "Europe/Berlin")
    assert "jenseits der Schwelle" in text.description
    assert "Prognose der Schwellenüberschreitung: 22. Nov. 2026, 17:00 MEZ" in text.description


def test_propagated_warning_names_the_upstream_station_from_its_details():
    ev = event(level=Level.WATCH, value=3.3, threshold=3.2, expected_at_ns=T0 + 3 * HOUR,
               detector="propagation", message_key="flood.upstream",
               details=(("upstream", "gauge-grenzbruecke"), ("upstream_name", "Grenzbrücke gauge (border)"),
                        ("travel_time_min", "90")))
    st = CATALOG.by_id("gauge-lacville")
    fr = render(ev, st, "fr", "Europe/Paris")
    en = render(ev, st, "en", "Europe/Paris")
    assert fr.description.startswith("Une onde de crue arrive de la station amont Grenzbrücke gauge (border)")
    assert "vers 22 nov. 2026, 16:00" in fr.description
    assert en.description.count("Grenzbrücke") == 1 and "Forecast" not in en.description  # no repeats
    assert "3.3 m" in en.description and "alert level here: watch" in en.description


@pytest.mark.parametrize("key, expected", [
    ("rate_of_rise", "rising fast: 0.8 m per hour (the watch rate is 0.5 m per hour), now 2.61 m"),
    ("water_quality.event", "Turbidity at Hochtal intake sonde: 2.61 NTU, far from its usual level of about 0.5 NTU"),
])
def test_variant_descriptions_explain_what_the_evidence_means(key, expected):
    hazard = "water_quality" if key.startswith("water") else "flood"
    ev = event(hazard, threshold=0.5, message_key=key, details=(("rate_per_hour", "0.8"),))
    assert expected in render(ev, CATALOG.by_id(STATION[hazard]), "en", "UTC").description


def test_cleared_variant_uses_the_all_clear_text():
    ev = event(state="cleared", message_key="flood.upstream", details=(("upstream_name", "Hochtal gauge"),))
    text = render(ev, CATALOG.by_id("gauge-lacville"), "en", "UTC")
    assert text.headline.startswith("Flood all-clear") and "Hochtal" not in text.description


def test_broken_translation_falls_back_instead_of_crashing(monkeypatch):
    catalogs = {lang: dict(cat) for lang, cat in load_catalogs().items()}
    catalogs["fr"]["flood.raised.headline"] = "Crue {niveau} : {station"
    monkeypatch.setattr(messages, "load_catalogs", lambda: catalogs)
    monkeypatch.setattr(messages, "_MISSING", messages.Counter())
    text = render(event(), CATALOG.by_id("gauge-hochtal"), "fr", "Europe/Paris")
    assert text.headline == "Flood watch: Hochtal gauge" and text.lang == "en"
    assert messages.missing_translations() == {("fr", "!broken"): 1}


def test_a_shared_warning_adds_the_readers_languages_each_in_its_readers_time_zone():
    lacville = CATALOG.partner("lacville")
    reader = CATALOG.partner("rivertown").model_copy(update={"timezone": "America/New_York"})
    ev = event("flood", "updated", partner="lacville", station="gauge-lacville")
    rendered = texts(ev, CATALOG.by_id("gauge-lacville"), lacville, shared_with=[reader])
    assert list(rendered) == ["fr", "en", "de"]
    assert "14:00" in rendered["fr"].description and "14:00" in rendered["en"].description  # Paris
    assert "08:00" in rendered["de"].description  # the German reader's New York
    assert list(texts(ev, CATALOG.by_id("gauge-lacville"), lacville)) == ["fr", "en"]


@pytest.mark.parametrize("lang", LANGS)
def test_a_sensor_notice_says_what_the_check_found(lang):
    # the notices said "not confirmed by neighbouring stations" whatever the fault; no sensor check
    # compares neighbours: the operator reads what was found instead
    st = CATALOG.by_id(STATION["sensor"])
    catalog = load_catalogs()[lang]
    for fault in ("spike", "stuck", "impossible", "dry_probe"):
        ev = event("sensor", details=(("fault", fault), ("ratio", "2.5")))
        assert catalog[f"fault.{fault}"] in render(ev, st, lang, "Europe/Berlin").description
    english = render(event("sensor", details=(("fault", "impossible"),)), st, "en", "UTC").description
    assert "neighbouring" not in english and "outside what the sensor can measure" in english
    unnamed = render(event("sensor"), st, lang, "UTC").description           # evidence naming no fault
    assert catalog["fault.none"] in unnamed
    # the clearing event carries the last finding's value (the error code): "reads normally again
    # (−9,999 NTU)" told the opposite of the truth, so the cleared text gives no value
    closed = event("sensor", state="cleared", value=-9999.0, details=(("fault", "impossible"),))
    assert "999" not in render(closed, st, lang, "UTC").description


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("hazard", HAZARDS)
def test_a_cleared_text_quotes_no_value(lang, hazard):
    # a cleared event carries its last evidence, taken while the level was still up: "back below the
    # alert thresholds (2.31 m)" quoted a reading above the advisory threshold (the pages hide it too)
    text = render(event(hazard, "cleared", value=2.61), CATALOG.by_id(STATION[hazard]), lang, "UTC")
    assert "2.61" not in text.description and "2,61" not in text.description


@pytest.mark.parametrize("lang", LANGS)
def test_a_water_quality_warning_names_the_quantities_that_departed_with_it(lang):
    # the text named one quantity where the evidence had several departing together (the reason it
    # was public: same-site corroboration); a second sensor reads as its quantity and number
    st = CATALOG.by_id(STATION["water_quality"])
    catalog = load_catalogs()[lang]
    several = event("water_quality", quantity="redox", message_key="water_quality.event",
                    details=(("quantities", "redox,chlorine_2,ph"),))
    text = render(several, st, lang, "UTC").description
    assert catalog["quantity.ph"] in text and f'{catalog["quantity.chlorine"]} (2)' in text
    alone = event("water_quality", quantity="redox", message_key="water_quality.event", details=(("quantities", "redox"),))
    words = max(catalog["fragment.together"].split("{together}"), key=len).strip(" .:")   # the fragment's own words
    assert words in text and words not in render(alone, st, lang, "UTC").description
    cleared = event("water_quality", "cleared", quantity="redox", details=(("quantities", "redox,ph"),))
    assert catalog["quantity.ph"] not in render(cleared, st, lang, "UTC").description
