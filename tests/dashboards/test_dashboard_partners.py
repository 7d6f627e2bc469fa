"""Every partner gets Overview, Station, Detectors and Pipeline dashboards in each of its catalog
languages, in its time zone and folder, with no English left in a translated copy."""

from __future__ import annotations

import pytest

from riverwatch.catalog import load_catalog
from riverwatch.settings import REPO_ROOT, Settings

from dashboards import i18n
from dashboards.audience import SHARED, audiences
from dashboards.build import UID_DETECTORS, UID_OVERVIEW, UID_PIPELINE, UID_STATION, to_dict
from dashboards.provisioning import boards

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
DETECTORS = ["level_threshold", "rate_of_rise", "sensor_fault"]
SETTINGS = Settings(ingest={"detectors": DETECTORS})
BOARDS = boards(SETTINGS, CATALOG)
DOCS = {b.uid: to_dict(b.model) for b in BOARDS}
BASES = (UID_OVERVIEW, UID_STATION, UID_DETECTORS, UID_PIPELINE)


def panels(doc: dict) -> list[dict]:
    return [p for top in doc["panels"] for p in [top, *top.get("panels", [])]]


def test_one_dashboard_set_per_partner_language():
    assert len(BOARDS) == len(BASES) * (1 + sum(len(p.languages) for p in CATALOG.partners)) == 20
    folders = {b.uid: b.folder for b in BOARDS}
    for audience in audiences(CATALOG):
        partner = CATALOG.partner(audience.partner)
        for base in BASES:
            doc = DOCS[audience.uid(base)]
            assert folders[doc["uid"]].uid == f"rw-{partner.id}"
            assert doc["timezone"] == partner.timezone
            assert doc["tags"] == ["riverwatch", partner.id, f"lang:{audience.lang}"] == doc["links"][0]["tags"]
            assert partner.name in doc["title"]
    # the first language keeps the plain partner uid; a further one adds its code
    assert {"rw-pipeline-rivertown", "rw-pipeline-rivertown-en", "rw-detectors-lacville-en"} <= set(DOCS)
    titles = [(b.folder.uid, DOCS[b.uid]["title"]) for b in BOARDS]
    assert len(titles) == len(set(titles)), "titles must be distinct inside a folder"


def test_english_copy_of_a_german_partner_links_to_its_own_set():
    doc = DOCS["rw-overview-rivertown-en"]
    assert doc["title"] == "Riverwatch — Overview (Rivertown, EN)" and doc["timezone"] == "Europe/Berlin"
    table = next(p for p in doc["panels"] if p["type"] == "table")
    assert table["fieldConfig"]["defaults"]["links"][0]["url"].startswith("d/rw-station-rivertown-en/")
    assert table["title"] == "Open warnings"


def test_detectors_dashboard_in_the_partners_language():
    doc = DOCS["rw-detectors-rivertown"]
    titles = [p["title"] for p in panels(doc)]
    assert doc["title"] == "Riverwatch — Detektoren (Rivertown)" and doc["timezone"] == "Europe/Berlin"
    assert {"Ausgelöste Warnungen je Detektor", "Neueste Bewertungsergebnisse", "rate_of_rise: Wert",
            "rate_of_rise: Entscheidungsstufe"} <= set(titles)
    partner = doc["templating"]["list"][0]
    assert (partner["name"], partner["type"], partner["query"]) == ("partner", "constant", "rivertown")
    level = next(p for p in panels(doc) if p["title"] == "sensor_fault: Entscheidungsstufe")
    assert level["fieldConfig"]["defaults"]["mappings"][0]["options"]["3"]["text"] == "Warnung"
    evaluation = next(p for p in panels(doc) if p["type"] == "table")
    renames = evaluation["transformations"][0]["options"]["renameByName"]
    assert renames["false_warnings_per_day"] == "Fehlwarnungen pro Tag" and renames["detector"] == "Detektor"
    assert evaluation["fieldConfig"]["defaults"]["mappings"][0]["options"]["warning"]["text"] == "Warnung"


def test_pipeline_dashboard_in_the_partners_language_shows_only_its_rejects():
    doc, shared = DOCS["rw-pipeline-lacville"], DOCS["rw-pipeline"]
    heartbeat = doc["panels"][0]
    assert doc["title"] == "Riverwatch — État du pipeline (Lacville)" and doc["timezone"] == "Europe/Paris"
    assert heartbeat["title"] == "Signal de vie du pipeline"
    assert heartbeat["fieldConfig"]["defaults"]["noValue"] == "AUCUN SIGNAL DE VIE"
    assert "5 dernières minutes" in heartbeat["description"]
    broker = next(p for p in doc["panels"] if p["title"] == "Connexion au broker")
    assert broker["fieldConfig"]["defaults"]["mappings"][0]["options"]["1"]["text"] == "connecté"
    ours = [t["query"] for p in doc["panels"] for t in p["targets"]]
    theirs = [t["query"] for p in shared["panels"] for t in p["targets"]]
    assert len(ours) == len(theirs) == 19
    for mine, shared_query in zip(ours, theirs):
        if 'FROM "reject"' in mine:  # a partner sees its own rejects only ...
            assert "\"partner\" = 'lacville'" in mine
        elif 'FROM "sharing_audit"' in mine:  # ... what it shared and what was shared with it ...
            assert "(\"to\" = 'lacville' OR \"owner\" = 'lacville')" in mine
        else:  # ... and the same workers as everyone: they serve every partner
            assert mine == shared_query


def visible(doc: dict) -> set[str]:
    """Every text a reader sees: titles, descriptions, labels, no-value texts, value mappings,
    table headers, legends, annotation names."""
    seen = {doc["title"], doc["description"]}
    seen |= {v.get("label", "") for v in doc["templating"].get("list", [])}
    seen |= {a["name"] for a in doc["annotations"]["list"] if not a.get("builtIn")}
    for p in panels(doc):
        defaults = p.get("fieldConfig", {}).get("defaults", {})
        seen |= {p["title"], p.get("description", ""), defaults.get("noValue", "")}
        seen |= {o["text"] for m in defaults.get("mappings", []) for o in m["options"].values()}
        seen |= {name for t in p.get("transformations", []) for name in t["options"].get("renameByName", {}).values()}
        seen |= {t.get("alias", "") for t in p.get("targets", [])}
    return seen - {""}


@pytest.mark.parametrize("audience", [a for a in audiences(CATALOG) if a.lang != "en"], ids=str)
@pytest.mark.parametrize("base", BASES)
def test_translated_copies_show_no_english_text(audience, base):
    """Each text of a German or French copy differs from the same dashboard's English text, unless
    it is a name from the data (detectors, ``$tag`` legends, numbers) or spelled alike in both."""
    same_word = {t["en"] for t in i18n.TEXTS.values() if t[audience.lang] == t["en"]}
    english = visible(DOCS[SHARED.uid(base)]) | visible(DOCS[f"{audience.uid(base)}-en"])
    left = {s for s in visible(DOCS[audience.uid(base)]) & english
            if s not in same_word and s not in DETECTORS and not s.startswith("$") and not s.isdigit()}
    assert left == set()


def test_a_missing_translation_fails_the_build_and_the_catalog_check(monkeypatch):
    monkeypatch.setitem(i18n.TEXTS, "pipeline.title", {"en": "Riverwatch — Pipeline health", "de": "x"})
    assert i18n.missing_translations(["en", "de", "fr"]) == [("pipeline.title", "fr")]
    with pytest.raises(KeyError, match="no 'fr' text for 'pipeline.title'"):
        boards(SETTINGS, CATALOG)
