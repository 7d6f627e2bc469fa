"""The after-action review of a real pipeline run: the device simulator plays the storm into real
Mosquitto, the real worker ingests it into InfluxDB, operators of both cities acknowledge a warning
over MQTT; then ``riverwatch review`` reads the database back. Its indicators must equal what this
test computes from the raw rows it queries itself, and the report is rendered in headless Chromium.

``RIVERWATCH_SCREENSHOTS=1`` also writes ``docs/img/review_report.png``.
"""

from __future__ import annotations

import csv
import json
import statistics
import threading
import time
import uuid

import orjson
import pytest

from application.cli import main
from application.review.cli import write_review
from devices.scenarios import scenario_duration
from devices.simulate import run_scenario
from ingest.service import Service
from riverwatch.ack_contract import ack_topic
from riverwatch.catalog import load_catalog
from riverwatch.model import LEVEL_NAMES
from riverwatch.settings import REPO_ROOT, Settings
from riverwatch.storage import ACK, READING, WARNING

from tests.helpers import Publisher, wait_until
from tests.ingest.test_feed_pages import browser, chromium, screenshot  # noqa: F401 (fixture)

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
NS = 1_000_000_000
WALL_S = 20.0
INTERVAL_S = 300.0
COUNTRY = {p.id: p.country for p in CATALOG.partners}
NOTES = "# Rivertown\n- sandbags at the quay were late\n- the border gauge <needs> a second sensor\n\nCall Lacville first."


@pytest.fixture(scope="module")
def storm(services, tmp_path_factory):
    """Play the storm through a real worker once for the module; the database, window and warnings."""
    from riverwatch.influx import InfluxClient

    tmp = tmp_path_factory.mktemp("storm")
    influx = InfluxClient(services.influx_url, f"test_review_{uuid.uuid4().hex[:10]}")
    influx.create_database()
    settings = Settings(
        state_dir=tmp / "state",
        mqtt={"host": services.mqtt_host, "port": services.mqtt_port, "client_id": f"review-{uuid.uuid4().hex[:8]}",
              "session_expiry_s": 30},
        influx={"url": services.influx_url, "database": influx.database, "flush_interval_s": 0.05, "timeout_s": 5.0},
        ingest={"detectors": ["level_threshold", "rate_of_rise", "time_to_threshold", "sensor_fault"],
                "spool_dir": tmp / "spool", "summary_interval_s": 1.0},
        acks={"remind_after_s": 2.0})
    sim_s = scenario_duration("storm", CATALOG)
    events, acked = [], []
    operators = Publisher(services)

    def acknowledge(event) -> None:  # the worker's processing thread: hand over, never block
        events.append(event)

    def desk() -> None:  # both cities acknowledge the first public Rivertown warning at watch or above
        while not stop.is_set():
            target = next((e for e in list(events) if e.public and e.partner == "rivertown" and e.level >= 2
                           and e.state != "cleared"), None)
            if target is not None:
                for partner, by in (("lacville", "marie"), ("rivertown", "jonas")):
                    operators.publish(ack_topic(partner, target.id), orjson.dumps(
                        {"by": by, "role": "operator", "comment": "seen", "action": f"{partner} crews out"}))
                acked.append(target.id)
                return
            time.sleep(0.02)

    stop = threading.Event()
    service = Service(settings, CATALOG, on_warning=acknowledge)
    service.start()
    clerk = threading.Thread(target=desk, daemon=True)
    try:
        assert service.wait_connected(15)
        clerk.start()
        start_s = time.time() - sim_s
        run_scenario(settings, CATALOG, "storm", sim_s / WALL_S, sim_s, interval_s=INTERVAL_S, start_s=start_s,
                     seed=7, state_dir=tmp / "devices", client_id=f"review-sim-{uuid.uuid4().hex[:8]}")
        assert service.wait_idle(60)
        time.sleep(2.5)  # a summary point and a reminder tick after the last reading
        assert service.wait_idle(30)
    finally:
        stop.set()
        service.stop()
        operators.close()
    window = (int((start_s - 60) * NS), time.time_ns() + 60 * NS)
    try:
        yield influx, window, events, acked, tmp
    finally:
        influx.drop_database()
        influx.close()


def raw(influx, q: str) -> list[dict]:
    return influx.query_rows(q)


def expected_leads(influx, window) -> dict:
    """Lead times computed here from the raw readings and warnings, independently of the review."""
    where = f"time >= {window[0]} AND time <= {window[1]}"
    warnings = raw(influx, f'SELECT * FROM "{WARNING}" WHERE {where} GROUP BY "partner", "station", "hazard"')
    leads = {}
    for st in CATALOG.stations:
        for q, spec in st.quantities.items():
            if not spec.levels or q == "precipitation":
                continue
            points = sorted((r["time"], r["value"]) for r in raw(
                influx, f'SELECT "value", "qc" FROM "{READING}" WHERE "station" = \'{st.id}\' AND "quantity" = '
                f'\'{q}\' AND {where}') if (r["qc"] or 1) < 4)
            sign = 1 if spec.direction == "above" else -1  # dissolved oxygen: danger lies below
            crossed = [name for name in LEVEL_NAMES if name in spec.levels
                       and any(sign * v >= sign * spec.levels[name] for _, v in points)]
            if not crossed:
                continue
            top = crossed[-1]
            crossing = min(t for t, v in points if sign * v >= sign * spec.levels[top])
            peak_value = (max if sign > 0 else min)(v for _, v in points)
            peak_time = min(t for t, v in points if v == peak_value)
            raised = [w["time"] for w in warnings if w["station"] == st.id and w["quantity"] == q and w["public"]
                      and w["state"] != "cleared" and w["hazard"] != "sensor"]  # raised public, or made public
            first = min(raised) if raised else None
            leads[(st.partner, st.id, q)] = (
                top, None if first is None else (crossing - first) / NS, None if first is None else (peak_time - first) / NS)
    return leads


def test_review_indicators_equal_what_the_raw_rows_say(storm, browser):
    influx, window, events, acked, tmp = storm
    out = tmp / "review"
    notes = tmp / "lessons.md"
    notes.write_text(NOTES)
    indicators = write_review(influx, CATALOG, *window, out, notes=notes)
    where = f"time >= {window[0]} AND time <= {window[1]}"

    # lead time before the crossing and before the peak, per station
    leads = expected_leads(influx, window)
    got = {(x["partner"], x["station"], x["quantity"]): (x["level"], x["lead_crossing_s"], x["lead_peak_s"])
           for x in indicators["lead_times"]}
    assert got == leads and leads, "the storm crosses thresholds"
    assert any(lead is not None for _, lead, _ in leads.values())

    # every warning event (and its CAP message) is in the review
    warnings = raw(influx, f'SELECT * FROM "{WARNING}" WHERE {where} GROUP BY "partner", "station", "hazard"')
    d = indicators["delivery"]
    assert d["warning_events"] == d["cap_messages"] == len(warnings) == len(events)
    states = {}
    for w in warnings:
        states[w["state"]] = states.get(w["state"], 0) + 1
    assert d["events_by_state"] == dict(sorted(states.items()))
    # delivery delay: each event's publication (worker clock) after the reading that caused it
    delays = sorted((w["published_ns"] - w["time"]) / 1e9 for w in warnings)
    assert d["publish_delay_samples"] == len(warnings) and d["publish_delay_max_s"] == delays[-1]
    assert d["publish_delay_median_s"] == statistics.median(delays) and delays[0] > 0

    # time to acknowledge per partner: the stored after_s of each partner's acknowledgement
    acks = raw(influx, f'SELECT * FROM "{ACK}" WHERE {where} GROUP BY *')
    assert acked and sorted(a["partner"] for a in acks if a["kind"] == "ack") == ["lacville", "rivertown"]
    by_partner = {a["partner"]: a for a in indicators["ack_times"]}
    for partner in ("lacville", "rivertown"):
        mine = [a["after_s"] for a in acks if a["kind"] == "ack" and a["partner"] == partner]
        assert by_partner[partner]["acknowledged"] == len(mine) == 1
        assert by_partner[partner]["median_s"] == pytest.approx(statistics.median(mine))
        due = {w["id"] for w in warnings if w["public"] and w["level"] >= 2}  # both partners share everything
        assert by_partner[partner]["concerned"] == len(due)
        assert by_partner[partner]["reminders"] == sum(1 for a in acks if a["kind"] == "reminder"
                                                       and a["partner"] == partner)
    assert d["reminders"] == sum(1 for a in acks if a["kind"] == "reminder") > 0

    # warnings without a matching event, events without a warning
    crossed = {(p, s, q) for p, s, q in leads}
    raised = {}
    for w in sorted(warnings, key=lambda w: w["time"]):  # when each warning first went public
        if w["public"] and w["state"] != "cleared" and w["hazard"] != "sensor":
            raised.setdefault((w["partner"], w["station"], w["quantity"]), w["id"])
    assert sorted(x["id"] for x in indicators["warnings_without_event"]) == sorted(
        wid for key, wid in raised.items() if key[:2] not in {c[:2] for c in crossed})
    assert sorted((x["station"], x["quantity"]) for x in indicators["events_without_warning"]) == sorted(
        (s, q) for p, s, q in crossed if (p, s) not in {r[:2] for r in raised})

    # data availability: distinct message times per station
    for a in indicators["availability"]:
        times = {r["time"] for r in raw(influx, f'SELECT "value" FROM "{READING}" WHERE "station" = '
                                                f'\'{a["station"]}\' AND {where}')}
        assert a["received"] == len(times) > 0
        assert a["availability"] == pytest.approx(1.0, abs=0.02)  # the simulator loses nothing

    # receptions across the border: shared warnings and propagation into Lacville
    shared = sum(1 for w in warnings if w["public"] and w["state"] in ("raised", "escalated"))
    propagated = sum(1 for w in warnings if w["state"] == "raised" and w["detector"] == "propagation"
                     and COUNTRY.get(json.loads(w["evidence"]).get("upstream_partner"), w["partner"]) != COUNTRY[w["partner"]])
    assert d["received_across_borders"] == shared + propagated and propagated > 0

    # the files: CSV rows = JSON rows, notes archived and merged
    report = json.loads((out / "report.json").read_text())
    with (out / "timeline.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(report["timeline"]) and {r["kind"] for r in rows} >= {
        "first_abnormal", "crossing", "peak", "warning", "received", "ack", "reminder"}
    assert [n["text"] for n in report["notes"]] == [NOTES] and len(list((out / "notes").iterdir())) == 1
    assert report["indicators"]["lead_times"] == json.loads(json.dumps(indicators["lead_times"]))

    # the page in Chromium: both cities, each in its languages, plot embedded, notes escaped
    page = (out / "report.html").read_text()
    assert page.count('class="reader"') == 4 and "data:image/png;base64," in page
    assert "&lt;needs&gt;" in page and "<needs>" not in page
    image = screenshot(browser, tmp, (out / "report.html").as_uri(), "review_report.png", "1200,2400")
    assert image.size == (1200, 2400)
    dom = chromium(browser, tmp / "profile", (out / "report.html").as_uri(), "--dump-dom").decode()
    assert "Vorwarnzeit je Station" in dom and "Délai d’anticipation par station" in dom
    assert "MEZ" in dom  # Rivertown's sections in German are in Berlin time


def test_review_command_for_one_partner_keeps_earlier_notes(storm, monkeypatch, capsys):
    influx, window, _, _, tmp = storm
    out = tmp / "review-lacville"
    first, second = tmp / "rivertown.md", tmp / "lacville.md"
    first.write_text("- Rivertown: call earlier")
    second.write_text("- Lacville : pompes prêtes")
    monkeypatch.setenv("RIVERWATCH_INFLUX__URL", influx.url)
    monkeypatch.setenv("RIVERWATCH_INFLUX__DATABASE", influx.database)
    iso = lambda ns: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / NS))  # noqa: E731
    args = ["review", "--from", iso(window[0]), "--to", iso(window[1] + NS), "--partner", "lacville", "--out", str(out)]
    assert main([*args, "--notes", str(first)]) == 0
    time.sleep(1.1)  # notes are stamped to the second
    assert main([*args, "--notes", str(second)]) == 0
    assert "lead before the crossing" in capsys.readouterr().out
    page = (out / "report.html").read_text()
    assert page.count('class="reader"') == 2 and 'id="lacville-fr"' in page and 'id="rivertown-de"' not in page
    assert page.index("Rivertown: call earlier") < page.index("pompes prêtes")
    report = json.loads((out / "report.json").read_text())
    assert report["partner"] == "lacville" and len(report["notes"]) == 2
