"""Dashboards: valid for Grafana 11.6 and 12, deterministic, round-trip through the SDK, linked."""

from __future__ import annotations

import json
import re

import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard

from riverwatch.catalog import load_catalog
from riverwatch.settings import REPO_ROOT, Settings

from dashboards.build import STATION_STATES, TAG, UID_STATION, to_dict, to_json
from dashboards.influxql import DATASOURCE_UID, register
from dashboards.provisioning import boards, partner_datasource_uid
from dashboards.schema import VERSIONS, dashboard_errors, schema_dir

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
SETTINGS = Settings(ingest={"detectors": ["level_threshold", "rate_of_rise", "sensor_fault"]})
BOARDS = boards(SETTINGS, CATALOG)
DOCS = {b.uid: to_dict(b.model) for b in BOARDS}


@pytest.fixture(scope="module", autouse=True)
def schemas():
    if not (schema_dir() / "v11.6" / "dashboard.jsonschema.json").is_file():
        pytest.skip(f"Grafana schemas not found under {schema_dir()}")


def panels(doc: dict) -> list[dict]:
    return [p for top in doc["panels"] for p in [top, *top.get("panels", [])]]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("uid", sorted(DOCS))
def test_dashboard_is_schema_valid(uid, version):
    assert dashboard_errors(DOCS[uid], version) == []


def _without_documented_divergences(node):
    """The doc with null base thresholds made numbers and InfluxQL annotation targets removed."""
    if isinstance(node, dict):
        if set(node) == {"value", "color"} and node["value"] is None:
            return {"value": -1e300, "color": node["color"]}
        return {k: _without_documented_divergences(v) for k, v in node.items()
                if not (k == "target" and isinstance(v, dict) and "query" in v)}
    if isinstance(node, list):
        return [_without_documented_divergences(v) for v in node]
    return node


@pytest.mark.parametrize("uid", sorted(DOCS))
def test_only_documented_v11_6_fixes_are_needed(uid):
    """Strict v11.6 objects only to the two divergences v12 corrected (see dashboards.schema)."""
    assert dashboard_errors(_without_documented_divergences(DOCS[uid]), "v11.6", grafana_json=False) == []


def test_build_is_deterministic():
    again = {b.uid: to_json(b.model) for b in boards(SETTINGS, CATALOG)}
    assert again == {b.uid: to_json(b.model) for b in BOARDS}
    text = to_json(BOARDS[0].model)
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("uid", sorted(DOCS))
def test_round_trips_through_the_sdk(uid):
    """Parsed back by the SDK's model and re-encoded: identical, but for InfluxQL annotation
    targets, which the 11.6 SDK models only for Grafana's built-in annotations."""
    register()
    doc = DOCS[uid]
    back = to_dict(Dashboard.from_json(doc))
    for ours, theirs in zip(doc["annotations"].get("list", []), back["annotations"].get("list", [])):
        if "query" in ours.get("target", {}):
            theirs["target"] = ours["target"]
    assert back == doc
    targets = [t for p in panels(doc) for t in p.get("targets", [])]
    partner = next(b.partner for b in BOARDS if b.uid == uid)
    source = partner_datasource_uid(partner) if partner else DATASOURCE_UID  # a partner's boards read its own view
    assert targets and all(t["rawQuery"] is True and t["datasource"]["uid"] == source for t in targets)


@pytest.mark.parametrize("uid", sorted(DOCS))
def test_uids_ids_and_links(uid):
    doc = DOCS[uid]
    ids = [p["id"] for p in panels(doc)]
    assert len(ids) == len(set(ids))
    assert TAG in doc["tags"] and doc["links"][0]["tags"] == doc["tags"]  # links stay in the same set
    assert len(uid) <= 40  # Grafana's limit
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels(doc))


def test_overview_map_and_table_link_to_station():
    doc = DOCS["rw-overview"]
    geomap = next(p for p in doc["panels"] if p["type"] == "geomap")
    table = next(p for p in doc["panels"] if p["title"] == "Open warnings")
    for panel in (geomap, table):
        url = panel["fieldConfig"]["defaults"]["links"][0]["url"]
        assert url.startswith(f"d/{UID_STATION}/") and "var-station=${__data.fields.station}" in url
    mapping = geomap["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert [mapping[str(v)]["text"] for v, _, _ in STATION_STATES] == [name for _, name, _ in STATION_STATES]
    assert geomap["options"]["layers"][0]["config"]["style"]["color"]["field"] == "state"


def test_station_readings_carry_catalog_thresholds():
    doc = DOCS[UID_STATION]
    stage = next(p for p in doc["panels"] if p["title"] == "River stage (m)")
    bands = {o["matcher"]["options"]["names"][0]: o["properties"][0]["value"]["steps"]
             for o in stage["fieldConfig"]["overrides"]}
    hochtal = CATALOG.station("rivertown", "gauge-hochtal").quantities["water_level"].levels
    assert [s["value"] for s in bands["gauge-hochtal"][1:]] == sorted(hochtal.values())
    assert stage["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line+area"
    names = [v["name"] for v in doc["templating"]["list"]]
    assert names == ["partner", "station", "quantity"]
    assert "$partner" in doc["templating"]["list"][1]["query"] and "$station" in doc["templating"]["list"][2]["query"]
    assert doc["annotations"]["list"][1]["target"]["query"].startswith('SELECT "message" AS "text"')


def test_pipeline_health_reads_only_documented_pipeline_fields():
    """The Pipeline health panels (the backlog one included) query fields docs/storage-schema.md names."""
    table = (REPO_ROOT / "docs" / "storage-schema.md").read_text().split("### `pipeline`", 1)[1].split("###", 1)[0]
    documented = {name for row in re.findall(r"^\| field \|([^|]*)\|", table, re.M)
                  for name in re.findall(r"`(\w+)`", row)}
    queries = [t["query"] for p in panels(DOCS["rw-pipeline"]) for t in p.get("targets", [])
               if 'FROM "pipeline"' in t["query"]]
    used = {name for q in queries for name in re.findall(r'\w+\("(\w+)"\)', q)}
    assert {"backlog_max", "writer_backlog", "overload_dropped"} <= used <= documented
    backlog = next(p for p in panels(DOCS["rw-pipeline"]) if p["title"] == "Backlog and overload")
    assert len(backlog["targets"]) == 3


def test_partner_copies_fix_the_partner():
    for partner in CATALOG.partners:
        first = DOCS[f"{UID_STATION}-{partner.id}"]["templating"]["list"][0]
        assert (first["name"], first["type"], first["query"]) == ("partner", "constant", partner.id)
