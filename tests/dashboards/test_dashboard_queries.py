"""Every panel, template-variable, annotation and alert-rule query runs against the real InfluxDB
and returns rows.

The data come from the real pipeline: ``devices`` simulators play the ``all`` scenario (storm,
plume, a spike at a Rivertown gauge) plus a spike at the Lacville gauge, so that every detector
warns for both partners, for one simulated day into Mosquitto; ``ingest.service.Service``
consumes, scores and writes them; a malformed message per partner makes a reject; the evaluation
sink writes one evaluation result per detector.

Every partner's dashboards (one set per language) run here too, with the partner fixed.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from riverwatch.catalog import load_catalog
from riverwatch.influx import InfluxClient
from riverwatch.settings import REPO_ROOT, Settings

from tests.helpers import wait_until

from application.demo import acknowledge_open_warnings
from application.review.cli import write_review
from dashboards.alerting import alert_rules
from dashboards.build import to_dict
from dashboards.evaluation_sink import write_evaluation
from dashboards.provisioning import boards
from dashboards.queries import annotation_queries, interpolate, panel_queries, variable_queries
from ingest.share_sink import ShareSink
from riverwatch.sharing import partner_database

ingest_service = pytest.importorskip("ingest.service")
simulate = pytest.importorskip("devices.simulate")
scenarios = pytest.importorskip("devices.scenarios")

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
#: Detectors the ingest runs; all of them raise at least one warning in the "all" scenario.
DETECTORS = ["level_threshold", "rate_of_rise", "sensor_fault"]
#: Per partner, the station the Station dashboard is looked at for panels not tied to one
#: quantity: the gauges the flood wave reaches with a forecast crossing time.
FOCUS = {"lacville": "gauge-lacville", "rivertown": "gauge-grenzbruecke"}
DAY_S = 86400.0


def _plan(start_s: float):
    """The ``all`` scenario, with a spike at the Lacville gauge too (``all`` spikes a Rivertown
    one) and the flood wave reaching it as steep as at Hochtal (routing flattens it below the
    rate of rise that warns)."""
    plan = scenarios.build_scenario("all", CATALOG, start_s, DAY_S)
    spike = scenarios.Fault("gauge-lacville", "spike", "water_level", start_s + 0.15 * DAY_S,
                            start_s + 0.15 * DAY_S, scenarios.SPIKE_SIZE["water_level"])
    drivers = {**plan.drivers, "gauge-lacville": plan.drivers["gauge-hochtal"]}
    return replace(plan, drivers=drivers, faults=(*plan.faults, spike))


def _publish_scenario(host: str, port: int, start_s: float) -> int:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dash-pub-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.connect(host, port)
    client.loop_start()
    try:
        count = 0
        for topic, payload, _ in simulate.scenario_messages(CATALOG, _plan(start_s), start_s, DAY_S, interval_s=300.0):
            client.publish(topic, payload, qos=1)
            count += 1
        for partner, station in FOCUS.items():  # a reject for each partner's Pipeline dashboard
            client.publish(f"rw/v1/{partner}/{station}/data", b"{not json", qos=1).wait_for_publish(10)
        return count
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture(scope="module")
def pipeline_db(services, tmp_path_factory):
    """A database filled by the real ingest pipeline (dropped afterwards)."""
    tmp = tmp_path_factory.mktemp("dashboards-pipeline")
    database = f"dash_{uuid.uuid4().hex[:10]}"
    settings = Settings(
        state_dir=tmp / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"ingest-{database}",
              "session_expiry_s": 30},
        influx={"url": services.influx_url, "database": database, "flush_interval_s": 0.05, "timeout_s": 5.0},
        ingest={"detectors": DETECTORS, "spool_dir": tmp / "spool", "summary_interval_s": 0.5},
        acks={"remind_after_s": 1.0})  # open warnings are re-announced while the test runs
    client = InfluxClient(services.influx_url, database)
    service = ingest_service.Service(settings, CATALOG)
    service.start()
    try:
        assert service.wait_connected(10)
        sent = _publish_scenario(services.mqtt_host, services.mqtt_port, time.time() - 2 * DAY_S + 3600)
        assert sent > 1000
        assert service.wait_idle(60)
        time.sleep(1.2)  # at least two summary intervals: station_state and pipeline rows
        assert wait_until(lambda: service.acks.reminders > 0, 10)  # an open warning re-announced
        acks_sent = acknowledge_open_warnings(settings, service)  # operators acknowledge, through the worker
        assert acks_sent > 0 and service.acks.accepted == acks_sent
    finally:
        service.stop()
    write_review(client, CATALOG, int((time.time() - 2 * DAY_S) * 1e9), time.time_ns(), tmp / "review")
    for detector in DETECTORS:
        write_evaluation(client, {"precision": 0.9, "recall": 0.8, "f1": 0.847, "lead_time_median_minutes": 42.0,
                                  "false_warnings_per_day": 0.1, "nab_standard": 61.5}, detector, "demo-all")
    # the worker's next passes, once the last raw window has closed: what the stop left pending, the
    # review and the evaluations
    later = int(settings.sharing.raw_window_s * 1e9)
    share = ShareSink(settings, CATALOG, lambda: (0, 0), clock_ns=lambda: time.time_ns() + later)
    share.mark_restart()
    share.run_pass()
    share.close()
    try:
        yield client, Settings(influx={"url": services.influx_url, "database": database},
                               ingest={"detectors": DETECTORS})
    finally:
        client.drop_database()
        for partner in CATALOG.partners:
            client.query(f'DROP DATABASE "{partner_database(database, partner.id)}"', epoch=None)
        client.close()


def _station_for(influxql: str, default: tuple[str, str]) -> tuple[str, str]:
    """A catalogued station that measures the quantity a query is pinned to (else ``default``)."""
    pinned = re.search(r'"quantity" = \'(\w+)\'', influxql)
    if not pinned:
        return default
    station = next(st for st in CATALOG.stations if pinned.group(1) in st.quantities)
    return station.partner, station.id


def _variables(doc: dict, station: tuple[str, str]) -> dict[str, str]:
    partner, station_id = station
    fixed = {v["name"]: v["query"] for v in doc["templating"].get("list", []) if v["type"] == "constant"}
    values = {"partner": fixed.get("partner", partner), "station": station_id, "quantity": ".*"}
    if doc["uid"] == "rw-detectors":
        values["partner"] = ".*"
    if doc["uid"].startswith("rw-detectors"):  # all stations: not every detector warns at every one
        values.update(station=".*")
    return values


def _all_queries(settings: Settings):
    """(where, InfluxQL, the partner whose view the board reads or None for the main database)."""
    for board in boards(settings, CATALOG):
        doc = to_dict(board.model)
        partner_const = next((v["query"] for v in doc["templating"].get("list", []) if v["type"] == "constant"), None)
        partner = partner_const or "lacville"
        default = (partner, FOCUS[partner])
        for finder in (panel_queries, variable_queries, annotation_queries):
            for _, query in finder(doc):
                station = _station_for(query.influxql, default)
                if partner_const and station[0] != partner_const:
                    station = next((st.partner, st.id) for st in CATALOG.stations
                                   if st.partner == partner_const and st.id.split("-")[0] == station[1].split("-")[0])
                yield (f"{doc['uid']}: {query.where}", interpolate(query.influxql, _variables(doc, station)),
                       board.partner)


def test_every_dashboard_query_returns_rows(pipeline_db):
    """Shared boards against the main database, each partner's against its own view (the sharing sink's)."""
    client, settings = pipeline_db
    views = {p.id: InfluxClient(client.url, partner_database(client.database, p.id)) for p in CATALOG.partners}
    try:
        results = {where: (views[partner] if partner else client).query_rows(q)
                   for where, q, partner in _all_queries(settings)}
    finally:
        for view in views.values():
            view.close()
    empty = [where for where, rows in results.items() if not rows]
    assert not empty, f"{len(empty)} of {len(results)} queries returned nothing: {empty}"
    panels_run: dict[str, set[str]] = {}
    for where in results:
        board, place = where.split(": ", 1)
        if place.startswith("panel "):
            panels_run.setdefault(board, set()).add(place.split(" ")[1])
    with_queries = {b.uid: {str(p["id"]) for top in to_dict(b.model)["panels"] for p in [top, *top.get("panels", [])]
                            if p.get("targets")} for b in boards(settings, CATALOG)}
    assert panels_run == with_queries  # every panel of every dashboard, each partner and language
    for uid, ran in panels_run.items():  # a partner's copy has the panels of the shared one
        assert len(ran) == len(panels_run["-".join(uid.split("-")[:2])]), uid


def test_alert_rule_queries_return_rows(pipeline_db):
    client, _ = pipeline_db
    for rule in alert_rules("rw-shared"):
        source = rule["data"][0]  # over the rule's own relative time range, as Grafana evaluates it
        window = f"time > now() - {source['relativeTimeRange']['from']}s"
        rows = client.query_rows(interpolate(source["model"]["query"], {}, time_filter=window))
        assert rows, rule["uid"]
        if rule["uid"] == "rw-heartbeat":
            assert {row["worker"] for row in rows} == {f"ingest-{client.database}"}
        elif rule["uid"] == "rw-unacknowledged":  # the stations whose warnings were re-announced
            assert all(row["reminders"] > 0 for row in rows)
            assert {row["station"] for row in rows} <= {st.id for st in CATALOG.stations}
        else:
            assert {row["station"] for row in rows} == {st.id for st in CATALOG.stations}


def test_open_warnings_and_since_join_on_id(pipeline_db):
    """The Overview's open-warnings table: open warnings (A) find their raise (B) by id.

    Not all of them: when a warning is raised and escalated in the same instant both events land
    on one series and timestamp, and the later overwrites the raise (reported; the table's outer
    join keeps such warnings, with an empty "since").
    """
    client, settings = pipeline_db
    overview = to_dict(boards(settings, CATALOG)[0].model)
    table = next(p for p in overview["panels"] if p["title"] == "Open warnings")
    open_rows = client.query_rows(interpolate(table["targets"][0]["query"], {}))
    raised_ids = {row["id"] for row in client.query_rows(interpolate(table["targets"][1]["query"], {}))}
    assert open_rows and all(row["state"] != "cleared" for row in open_rows)
    assert {row["id"] for row in open_rows} & raised_ids


def test_station_state_map_rows_cover_catalog(pipeline_db):
    client, settings = pipeline_db
    overview = to_dict(boards(settings, CATALOG)[0].model)
    geomap = next(p for p in overview["panels"] if p["type"] == "geomap")
    rows = client.query_rows(interpolate(geomap["targets"][0]["query"], {}))
    assert {(r["partner"], r["station"]) for r in rows} == {st.key for st in CATALOG.stations}
    assert all(0 <= r["state"] <= 5 and r["lat"] and r["lon"] for r in rows)
