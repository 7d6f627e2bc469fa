"""The warning lifecycle: states, dedupe, flapping, public vs maintenance, propagation, restore."""

from __future__ import annotations

import json
from pathlib import Path

from detectors.base import Finding
from early_warning.lifecycle import LifecycleParams, WarningBook, stream_id
from riverwatch.catalog import load_catalog
from riverwatch.model import Level

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "catalog" / "demo.toml")
HOCHTAL = CATALOG.station("rivertown", "gauge-hochtal")
GRENZ = CATALOG.station("rivertown", "gauge-grenzbruecke")
LACVILLE = CATALOG.station("lacville", "gauge-lacville")
WQ_UP = CATALOG.station("rivertown", "wq-hochtal")
WQ_DOWN = CATALOG.station("lacville", "wq-lacville")
T0 = 1_800_000_000.0
PARAMS = LifecycleParams(min_duration_s=600, clear_after_s=900, flap_window_s=3600,
                         propagate_hazards=())
LT = stream_id("level_threshold", "water_level")


def finding(level, detector="level_threshold", hazard="flood", quantity="water_level", value=2.6,
            expected_at=None, details=()):
    return lambda: Finding(detector, hazard, Level(level), quantity, value, value / 2.0, 2.5,
                           expected_at, "", details)


def feed(book, station, hazard, stream, levels, t0=T0, step=300.0, **kw):
    events = []
    for i, lvl in enumerate(levels):
        events += book.update(station, hazard, stream, Level(lvl), t0 + i * step,
                              finding(lvl, detector=stream.split(":")[0], hazard=hazard, **kw))
        events += book.tick(t0 + i * step)
    return events


def test_raise_escalate_deescalate_clear_sequence():
    book = WarningBook(CATALOG, PARAMS)
    levels = [2, 2, 3, 3, 3, 3, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0]
    events = [e for e in feed(book, HOCHTAL, "flood", LT, levels) if e.station == HOCHTAL.id]
    assert [e.state for e in events] == ["raised", "escalated", "deescalated", "cleared"]
    assert [e.level for e in events] == [Level.WATCH, Level.WARNING, Level.WATCH, Level.NONE]
    assert len({e.id for e in events}) == 1
    assert events[0].id == f"rivertown.gauge-hochtal.flood.{int(T0 * 1e9)}"
    assert events[1].time_ns - events[0].time_ns == 600 * 10**9
    # the warning level held min_duration_s before de-escalating, and the clear waited for quiet
    assert events[2].time_ns - events[1].time_ns >= 600 * 10**9
    assert events[3].time_ns - int((T0 + 10 * 300) * 1e9) >= 900 * 10**9
    assert all(e.public for e in events)
    assert book.open_warnings() == []
    assert not book.pending(HOCHTAL.key, LT)


def test_pending_is_true_only_while_a_stream_has_a_level():
    book = WarningBook(CATALOG, PARAMS)
    assert not book.pending(HOCHTAL.key, LT)
    assert book.update(HOCHTAL, "flood", LT, Level.NONE, T0, finding(0)) == []
    book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, finding(2))
    assert book.pending(HOCHTAL.key, LT)
    book.update(HOCHTAL, "flood", LT, Level.NONE, T0 + 60, finding(0))
    assert not book.pending(HOCHTAL.key, LT)


def test_dedupe_across_two_detectors_takes_max_level_and_its_evidence():
    book = WarningBook(CATALOG, PARAMS)
    events = book.update(HOCHTAL, "flood", LT, Level.ADVISORY, T0, finding(1))
    events += book.update(HOCHTAL, "flood", "time_to_threshold:water_level", Level.WARNING, T0 + 60,
                          finding(3, detector="time_to_threshold", expected_at=T0 + 3600))
    events += book.update(HOCHTAL, "flood", LT, Level.ADVISORY, T0 + 120, finding(1))
    assert [e.state for e in events] == ["raised", "escalated"]
    assert events[1].detector == "time_to_threshold"
    assert events[1].expected_at_ns == int((T0 + 3600) * 1e9)
    assert len(book.open_warnings()) == 1
    assert book.open_warnings()[0].level == Level.WARNING


def test_flapping_reopens_under_same_id_and_counts_flaps():
    book = WarningBook(CATALOG, PARAMS)
    levels = [2, 2, 2, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    events = feed(book, HOCHTAL, "flood", LT, levels)
    states = [e.state for e in events]
    assert states[:3] == ["raised", "cleared", "escalated"]
    assert "raised" not in states[1:]
    assert len({e.id for e in events}) == 1
    assert ("flaps", "1") in events[2].details
    # a flapped warning needs longer quiet before it clears again
    clears = [e for e in events if e.state == "cleared"]
    quiet_1 = clears[0].time_ns - int((T0 + 3 * 300) * 1e9)
    if len(clears) > 1:
        quiet_2 = clears[1].time_ns - int((T0 + 11 * 300) * 1e9)
        assert quiet_2 > quiet_1


def test_raise_after_flap_window_is_a_new_warning():
    book = WarningBook(CATALOG, PARAMS)
    first = feed(book, HOCHTAL, "flood", LT, [2, 2, 0, 0, 0, 0, 0, 0])
    later = feed(book, HOCHTAL, "flood", LT, [2], t0=T0 + 3 * 3600)
    assert later[0].state == "raised" and later[0].id != first[0].id


def test_water_quality_alone_is_a_maintenance_notice_until_a_neighbour_corroborates():
    book = WarningBook(CATALOG, PARAMS)
    stream = stream_id("level_threshold", "turbidity")
    up = book.update(WQ_UP, "water_quality", stream, Level.WATCH, T0,
                     finding(2, hazard="water_quality", quantity="turbidity"))
    assert [(e.state, e.public) for e in up] == [("raised", False)]
    down = book.update(WQ_DOWN, "water_quality", stream, Level.ADVISORY, T0 + 600,
                       finding(1, hazard="water_quality", quantity="turbidity"))
    by_station = {e.station: e for e in down}
    assert by_station["wq-lacville"].public and by_station["wq-lacville"].corroborating == ("wq-hochtal",)
    assert by_station["wq-hochtal"].state == "updated" and by_station["wq-hochtal"].public
    assert by_station["wq-hochtal"].corroborating == ("wq-lacville",)


def test_water_quality_event_over_several_quantities_is_public():
    book = WarningBook(CATALOG, PARAMS)
    ev = book.update(WQ_DOWN, "water_quality", "water_quality_event", Level.ADVISORY, T0,
                     finding(1, detector="water_quality_event", hazard="water_quality",
                             quantity="turbidity",
                             details=(("quantities", "turbidity,conductivity,ph"),)))
    assert ev[0].public and ev[0].corroborating == ()


def test_sensor_findings_are_never_public():
    book = WarningBook(CATALOG, PARAMS)
    ev = book.update(HOCHTAL, "sensor", stream_id("sensor_fault", "water_level"), Level.WATCH, T0,
                     finding(2, detector="sensor_fault", hazard="sensor"))
    ev += book.update(GRENZ, "sensor", stream_id("sensor_fault", "water_level"), Level.WATCH, T0,
                      finding(2, detector="sensor_fault", hazard="sensor"))
    assert ev and not any(e.public for e in ev)


def test_propagation_raises_downstream_watches_with_catalog_travel_time():
    book = WarningBook(CATALOG, LifecycleParams(min_duration_s=600, clear_after_s=900))
    events = book.update(HOCHTAL, "flood", LT, Level.WARNING, T0, finding(3, value=3.1))
    by_station = {e.station: e for e in events}
    assert set(by_station) == {"gauge-hochtal", "gauge-grenzbruecke", "gauge-lacville"}
    grenz, lac = by_station["gauge-grenzbruecke"], by_station["gauge-lacville"]
    assert (grenz.detector, grenz.level, grenz.state, grenz.public) == ("propagation", Level.WATCH,
                                                                         "raised", True)
    assert grenz.expected_at_ns == int((T0 + 120 * 60) * 1e9)
    assert lac.expected_at_ns == int((T0 + 210 * 60) * 1e9)
    assert ("upstream", "gauge-hochtal") in lac.details
    # the downstream station's own finding takes over, then the upstream clears
    book.update(GRENZ, "flood", LT, Level.WARNING, T0 + 3600, finding(3))
    t = T0 + 3600
    events = []
    for i in range(12):
        t += 300
        events += book.update(HOCHTAL, "flood", LT, Level.NONE, t, finding(0))
        events += book.update(GRENZ, "flood", LT, Level.WARNING, t, finding(3))
        events += book.tick(t)
    cleared = {e.station for e in events if e.state == "cleared"}
    assert "gauge-hochtal" in cleared
    assert "gauge-grenzbruecke" not in cleared       # own finding keeps it open
    assert {w.station for w in book.open_warnings()} == {"gauge-grenzbruecke", "gauge-lacville"}


def test_propagated_watch_clears_when_upstream_clears():
    book = WarningBook(CATALOG, LifecycleParams(min_duration_s=600, clear_after_s=900))
    book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, finding(2))
    events = []
    for i in range(1, 20):
        events += book.update(HOCHTAL, "flood", LT, Level.NONE, T0 + i * 300, finding(0))
        events += book.tick(T0 + i * 300)
    assert {e.station for e in events if e.state == "cleared"} == {
        "gauge-hochtal", "gauge-grenzbruecke", "gauge-lacville"}
    assert book.open_warnings() == []


def test_snapshot_restore_round_trip_and_no_reraise():
    book = WarningBook(CATALOG, PARAMS)
    feed(book, HOCHTAL, "flood", LT, [2, 3, 3])
    book.update(WQ_UP, "water_quality", "water_quality_event", Level.ADVISORY, T0,
                finding(1, hazard="water_quality", quantity="ph", expected_at=T0 + 10.5))
    snap = json.loads(json.dumps(book.snapshot()))
    restored = WarningBook.restore(CATALOG, snap, PARAMS)
    assert restored.snapshot() == book.snapshot()
    assert restored.open_warnings() == book.open_warnings()
    assert restored.pending(HOCHTAL.key, LT)
    t = T0 + 900
    a = book.update(HOCHTAL, "flood", LT, Level.WARNING, t, finding(3)) + book.tick(t)
    b = restored.update(HOCHTAL, "flood", LT, Level.WARNING, t, finding(3)) + restored.tick(t)
    assert a == b and not any(e.state == "raised" for e in b)


def test_times_are_per_hazard():
    # flood waits an hour of quiet before clearing; water quality keeps the [lifecycle] times
    params = LifecycleParams.model_validate({"min_duration_s": 600, "clear_after_s": 900, "propagate_hazards": [],
                                             "flood": {"clear_after_s": 3600}})
    book = WarningBook(CATALOG, params)
    events = feed(book, HOCHTAL, "flood", LT, [2] + [0] * 20)
    events += feed(book, WQ_UP, "water_quality", "water_quality_event", [2] + [0] * 20, quantity="turbidity")
    quiet_since_ns = int((T0 + 300) * 1e9)
    cleared = {e.hazard: (e.time_ns - quiet_since_ns) / 1e9 for e in events if e.state == "cleared"}
    assert cleared == {"flood": 3600.0, "water_quality": 900.0}


def test_open_warning_without_news_is_re_sent_before_its_cap_message_expires():
    from early_warning.cap import VALID_FOR_S
    from early_warning.lifecycle import KEEPALIVE_S
    book = WarningBook(CATALOG, PARAMS)
    # a steady watch for 13 h, one reading every 5 min: nothing changes after the raise
    events = [e for e in feed(book, HOCHTAL, "flood", LT, [2] * (13 * 12)) if e.station == HOCHTAL.id]
    assert events[0].state == "raised"
    assert [e.state for e in events[1:]] == ["updated"] * (len(events) - 1)
    assert len(events) >= 4
    gaps = [(b.time_ns - a.time_ns) / 1e9 for a, b in zip(events, events[1:])]
    assert all(KEEPALIVE_S <= g < VALID_FOR_S for g in gaps)
    assert (int((T0 + 155 * 300) * 1e9) - events[-1].time_ns) / 1e9 < VALID_FOR_S
    assert {e.id for e in events} == {events[0].id} and all(e.level == Level.WATCH for e in events)
