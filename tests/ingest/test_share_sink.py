"""The sharing sink against the real InfluxDB: partner views, aggregates, delays, late data, privacy.

The main database is filled as the worker fills it (line protocol through the InfluxDB API); the
sink's clock is the test's, so "an hour later" takes no hour.
"""

from __future__ import annotations

import math
import random

import pytest

from riverwatch.catalog import Catalog, load_catalog
from riverwatch.influx import InfluxClient
from riverwatch.settings import REPO_ROOT, Settings
from riverwatch.sharing import partner_database
from riverwatch.storage import ack_line

from ingest.share_sink import AUDIT, ShareSink

DEMO = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
HOUR_NS = 3_600_000_000_000
T0 = 1_800_000_000_000_000_000 - 1_800_000_000_000_000_000 % HOUR_NS  # an hour boundary
AGREEMENT = {"from": "rivertown", "to": "lacville", "stations": ["gauge-hochtal"], "quantities": ["water_level"],
             "hazards": ["flood"], "data": "aggregate", "aggregate": {"window_s": 900, "functions": ["mean", "max", "count"]},
             "delay_s": 3600, "agreement": "RT-LV-2027-01", "purpose": "flood early warning"}


def with_sharing(*policies: dict) -> Catalog:
    doc = DEMO.model_dump(by_alias=True, exclude={"sharing"})
    return Catalog.model_validate({**doc, "sharing": list(policies)})


class Clock:
    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


@pytest.fixture
def share(services, influx, tmp_path):
    made = []

    def make(catalog: Catalog, clock: Clock, lines_durable=lambda: (0, 0)) -> ShareSink:
        settings = Settings(state_dir=tmp_path / "state", influx={"url": services.influx_url, "database": influx.database})
        sink = ShareSink(settings, catalog, lines_durable, clock_ns=clock)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()


def view(services, influx, partner: str) -> InfluxClient:
    return InfluxClient(services.influx_url, partner_database(influx.database, partner))


def readings(partner: str, station: str, quantity: str, values: list[tuple[int, float]], qc: int = 1) -> list[str]:
    return [f"reading,partner={partner},station={station},quantity={quantity},kind=river_gauge "
            f"value={v!r},qc={qc}i,seq={i}i {t}" for i, (t, v) in enumerate(values)]


def test_aggregates_equal_those_computed_from_the_raw_readings_and_appear_only_after_the_delay(
        share, services, influx):
    rng = random.Random(7)
    minute = 60_000_000_000
    values = [(T0 + i * minute + rng.randrange(1000), round(1.5 + rng.random(), 4)) for i in range(60)]
    influx.write("\n".join(readings("rivertown", "gauge-hochtal", "water_level", values)
                           + readings("rivertown", "gauge-hochtal", "discharge", values)  # not in the agreement
                           + readings("rivertown", "gauge-grenzbruecke", "water_level", values)))  # nor this station
    clock = Clock(T0 + HOUR_NS)
    sink = share(with_sharing(AGREEMENT), clock)
    for t, _ in values:
        sink.note_readings("rivertown", "gauge-hochtal", t)
        sink.note_readings("rivertown", "gauge-grenzbruecke", t)
    sink.run_pass()  # the hour is over, but no window is an hour old yet
    with view(services, influx, "lacville") as lac:
        assert lac.query_rows('SELECT * FROM "reading"') == []
        clock.now_ns = T0 + 15 * minute + HOUR_NS  # the first window's delay has passed
        sink.run_pass()
        assert len(lac.query_rows('SELECT * FROM "reading"')) == 1
        clock.now_ns = T0 + 2 * HOUR_NS
        sink.run_pass()
        rows = lac.query_rows('SELECT "mean", "max", "count", "value", "station", "quantity", "window" FROM "reading"')
    assert [r["time"] for r in rows] == [T0 + k * 15 * minute for k in range(4)]
    for k, row in enumerate(rows):
        window = [v for t, v in values if T0 + k * 15 * minute <= t < T0 + (k + 1) * 15 * minute]
        assert math.isclose(row["mean"], sum(window) / len(window), rel_tol=1e-12)
        assert row["max"] == max(window) and row["count"] == len(window) and row["value"] == row["mean"]
        assert (row["station"], row["quantity"], row["window"]) == ("gauge-hochtal", "water_level", "900s")


def test_late_data_shares_its_window_again_without_a_duplicate(share, services, influx):
    minute = 60_000_000_000
    influx.write("\n".join(readings("rivertown", "gauge-hochtal", "water_level", [(T0, 1.0), (T0 + minute, 3.0)])))
    clock = Clock(T0 + 2 * HOUR_NS)
    sink = share(with_sharing(AGREEMENT), clock)
    sink.note_readings("rivertown", "gauge-hochtal", T0)
    sink.run_pass()
    influx.write(readings("rivertown", "gauge-hochtal", "water_level", [(T0 + 2 * minute, 5.0)])[0])  # a day late
    sink.note_readings("rivertown", "gauge-hochtal", T0 + 2 * minute)
    sink.run_pass()
    with view(services, influx, "lacville") as lac:
        rows = lac.query_rows('SELECT "mean", "count" FROM "reading"')
    assert [(r["mean"], r["count"]) for r in rows] == [(3.0, 3)]


def test_a_failed_reading_is_left_out_of_the_aggregate_but_kept_in_the_owners_raw_view(share, services, influx):
    influx.write("\n".join(readings("rivertown", "gauge-hochtal", "water_level", [(T0, 2.0)])
                           + readings("rivertown", "gauge-hochtal", "water_level", [(T0 + 1, 99.0)], qc=4)))
    clock = Clock(T0 + 2 * HOUR_NS)
    sink = share(with_sharing(AGREEMENT), clock)
    sink.note_readings("rivertown", "gauge-hochtal", T0)
    sink.run_pass()
    with view(services, influx, "lacville") as lac, view(services, influx, "rivertown") as own:
        assert [r["max"] for r in lac.query_rows('SELECT "max" FROM "reading"')] == [2.0]
        raw = own.query_rows('SELECT "value", "qc", "seq" FROM "reading"')
    assert [(r["value"], r["qc"]) for r in raw] == [(2.0, 1), (99.0, 4)]


def test_unshared_stations_and_hazards_stay_home_and_names_travel_only_by_agreement(share, services, influx):
    t = T0 + 1000
    warning = 'warning,partner=rivertown,station={s},hazard={h} id="x",state="raised",level=2i,public=true {t}'
    influx.write("\n".join([
        warning.format(s="gauge-hochtal", h="flood", t=t), warning.format(s="gauge-hochtal", h="heat", t=t),
        warning.format(s="gauge-grenzbruecke", h="flood", t=t),
        ack_line("x", "gauge-hochtal", "flood", "lacville", "operator", "marie", 60.0, "", "seen", t),
        ack_line("x", "gauge-hochtal", "flood", "rivertown", "duty-officer", "hans", 90.0, "", "gates", t + 1)]))
    clock = Clock(T0 + HOUR_NS)
    sink = share(with_sharing(AGREEMENT), clock)
    sink.note_warning("rivertown", "gauge-hochtal", "flood", t)
    sink.note_warning("rivertown", "gauge-hochtal", "heat", t)
    sink.note_warning("rivertown", "gauge-grenzbruecke", "flood", t)
    sink.note_ack("rivertown", "gauge-hochtal", "flood", t)
    sink.run_pass()
    with view(services, influx, "lacville") as lac, view(services, influx, "rivertown") as own:
        assert [(r["station"], r["hazard"]) for r in lac.query_rows('SELECT "id", "station", "hazard" FROM "warning"')] \
            == [("gauge-hochtal", "flood")]
        assert sorted(r["by"] for r in lac.query_rows('SELECT "by" FROM "ack"')) == ["duty-officer", "marie"]
        assert sorted(r["by"] for r in own.query_rows('SELECT "by" FROM "ack"')) == ["hans", "operator"]
        assert len(own.query_rows('SELECT "id" FROM "warning"')) == 3
    audit = influx.query_rows(f'SELECT * FROM "{AUDIT}" GROUP BY *')
    assert {(r["to"], r["owner"], r["kind"], r["agreement"]) for r in audit} >= {
        ("lacville", "rivertown", "warning", "RT-LV-2027-01"), ("rivertown", "rivertown", "ack", "own")}


def test_after_a_crash_the_restart_horizon_shares_what_the_lost_marks_would_have(share, services, influx):
    minute = 60_000_000_000
    influx.write("\n".join(readings("rivertown", "gauge-hochtal", "water_level", [(T0, 1.0), (T0 + minute, 2.0)])))
    crashed = share(with_sharing(AGREEMENT), Clock(T0 + 10 * minute))
    crashed.note_readings("rivertown", "gauge-hochtal", T0)  # marked, never shared: the worker dies here
    clock = Clock(T0 + 5 * minute)  # back within the restart horizon (10 min)
    restarted = share(with_sharing(AGREEMENT), clock)
    restarted.mark_restart()
    restarted.run_pass()
    with view(services, influx, "lacville") as lac:
        assert lac.query_rows('SELECT * FROM "reading"') == []  # still within the delay
        clock.now_ns = T0 + 2 * HOUR_NS
        restarted.run_pass()
        assert [(r["mean"], r["count"]) for r in lac.query_rows('SELECT "mean", "count" FROM "reading"')] == [(1.5, 2)]
    with view(services, influx, "rivertown") as own:
        assert len(own.query_rows('SELECT "value" FROM "reading"')) == 2


def test_nothing_is_shared_while_the_main_sink_still_spools(share, influx):
    influx.write(readings("rivertown", "gauge-hochtal", "water_level", [(T0, 1.0)])[0])
    watermark = [(1, -1)]  # one line added; the spool is not empty
    sink = share(with_sharing(AGREEMENT), Clock(T0 + 3 * HOUR_NS), lambda: watermark[0])
    sink.note_readings("rivertown", "gauge-hochtal", T0)
    assert sink.run_pass() == 0
    watermark[0] = (1, 1)  # the spool was replayed
    assert sink.run_pass() == 2  # lacville's aggregate and rivertown's own reading
    assert sink.counters.pending_windows == 0


def test_the_owners_view_holds_its_scores_per_minute_mean_score_and_highest_level(share, services, influx):
    second = 1_000_000_000
    score = "score,partner=rivertown,station=gauge-hochtal,quantity=water_level rate_of_rise={s},rate_of_rise_level={lv}i {t}"
    influx.write("\n".join([score.format(s=0.2, lv=0, t=T0), score.format(s=0.6, lv=2, t=T0 + 20 * second),
                            score.format(s=0.4, lv=1, t=T0 + 70 * second)]
                           + readings("rivertown", "gauge-hochtal", "water_level", [(T0, 1.0), (T0 + 70 * second, 1.1)])))
    sink = share(with_sharing(AGREEMENT), Clock(T0 + HOUR_NS))
    sink.note_readings("rivertown", "gauge-hochtal", T0)
    sink.note_readings("rivertown", "gauge-hochtal", T0 + 70 * second)
    sink.run_pass()
    with view(services, influx, "rivertown") as own:
        rows = own.query_rows('SELECT "rate_of_rise", "rate_of_rise_level" FROM "score"')
    assert [(r["time"], round(r["rate_of_rise"], 9), r["rate_of_rise_level"]) for r in rows] == [
        (T0, 0.4, 2), (T0 + 60 * second, 0.4, 1)]


def test_pending_windows_are_saved_while_running_so_a_crash_loses_none_beyond_the_horizon(services, influx, tmp_path):
    from tests.helpers import wait_until

    influx.write(readings("rivertown", "gauge-hochtal", "water_level", [(T0, 1.0), (T0 + 1, 3.0)])[0])
    settings = Settings(state_dir=tmp_path, influx={"url": services.influx_url, "database": influx.database},
                        sharing={"interval_s": 0.05, "save_interval_s": 0.1, "restart_horizon_s": 0})
    clock = Clock(T0 + 60_000_000_000)  # the window is not due yet: its mark stays pending
    running = ShareSink(settings, with_sharing(AGREEMENT), lambda: (0, 0), clock_ns=clock)
    running.start()
    running.note_readings("rivertown", "gauge-hochtal", T0)
    saved = tmp_path / "sharing" / "pending.json"
    assert wait_until(lambda: saved.is_file() and "lacville" in saved.read_text(), timeout=10)
    running._stop.set()  # the process dies here: no clean stop ...
    running._thread.join(5)
    running.close()
    clock.now_ns = T0 + 2 * HOUR_NS  # ... and comes back later, with no restart horizon at all
    restarted = ShareSink(settings, with_sharing(AGREEMENT), lambda: (0, 0), clock_ns=clock)
    try:
        restarted.mark_restart()
        restarted.run_pass()
    finally:
        restarted.close()
    with view(services, influx, "lacville") as lac:
        assert [r["count"] for r in lac.query_rows('SELECT "count" FROM "reading"')] == [1]
