"""The review's indicators on a hand-built timeline whose answers are known (pure logic, no services)."""

from __future__ import annotations

import pytest

from application.review.indicators import (
    ack_times, all_indicators, availability, delivery, lead_times, mismatches,
)
from application.review.timeline import Row, StationData, Timeline

T0 = 1_795_348_800_000_000_000  # 2026-11-22 12:00 UTC
MIN = 60_000_000_000
UP, DOWN = "rivertown", "lacville"
WID = f"{UP}.gauge-hochtal.flood.{T0}"


def warning(minutes, partner, station, state, level, wid, quantity="water_level", hazard="flood", public=True,
            **detail):
    return Row(T0 + minutes * MIN, "warning", partner, station, hazard=hazard, quantity=quantity, level=level,
               state=state, id=wid, public=public, detail={"cap": True, **detail})


@pytest.fixture
def timeline() -> Timeline:
    """Hochtal warned 40 min before its watch crossing and 100 min before its peak; the border gauge
    crossed advisory with no warning; Lacville got a propagated watch that never materialised; a
    sensor notice on the sonde; one acknowledgement each, one reminder."""
    rows = [
        warning(0, UP, "gauge-hochtal", "raised", "advisory", WID),
        warning(20, UP, "gauge-hochtal", "escalated", "watch", WID),
        Row(T0 + 40 * MIN, "crossing", UP, "gauge-hochtal", quantity="water_level", level="advisory", value=2.1,
            threshold=2.0),
        Row(T0 + 40 * MIN, "crossing", UP, "gauge-hochtal", quantity="water_level", level="watch", value=2.6,
            threshold=2.5),
        Row(T0 + 100 * MIN, "peak", UP, "gauge-hochtal", quantity="water_level", level="watch", value=2.9,
            threshold=2.5),
        Row(T0 + 70 * MIN, "crossing", UP, "gauge-grenzbruecke", quantity="water_level", level="advisory",
            value=2.3, threshold=2.2),
        Row(T0 + 90 * MIN, "peak", UP, "gauge-grenzbruecke", quantity="water_level", level="advisory", value=2.4,
            threshold=2.2),
        warning(30, DOWN, "gauge-lacville", "raised", "watch", "lv.1", detector="propagation"),
        warning(200, DOWN, "gauge-lacville", "cleared", "none", "lv.1"),
        warning(50, UP, "wq-hochtal", "raised", "advisory", "sonde.1", quantity="turbidity", hazard="sensor",
                public=False),
        Row(T0 + 45 * MIN, "ack", DOWN, "gauge-hochtal", id=WID, by="marie", detail={"after_s": 2700.0}),
        Row(T0 + 55 * MIN, "ack", UP, "gauge-hochtal", id=WID, by="jonas", detail={"after_s": 3300.0}),
        Row(T0 + 60 * MIN, "ack", UP, "gauge-hochtal", id=WID, by="late", detail={"after_s": 3600.0}),
        Row(T0 + 40 * MIN, "reminder", DOWN, "gauge-lacville", id="lv.1", level="watch", detail={"after_s": 600.0}),
    ]
    stations = {
        (UP, "gauge-hochtal"): StationData(UP, "gauge-hochtal", "Hochtal", tuple(T0 + m * MIN for m in range(0, 121, 10)),
                                           39, 2, 1),
        (UP, "gauge-grenzbruecke"): StationData(UP, "gauge-grenzbruecke", "Grenzbrücke",
                                                tuple(T0 + m * MIN for m in (0, 10, 20, 60, 70, 80, 90, 100, 110, 120)),
                                                30),
        (DOWN, "gauge-lacville"): StationData(DOWN, "gauge-lacville", "Lacville"),
        (UP, "wq-hochtal"): StationData(UP, "wq-hochtal", "Sonde", (T0, T0 + 120 * MIN), 18, 3),
    }
    return Timeline(T0, T0 + 240 * MIN, rows=rows, stations=stations, shares={UP: [DOWN], DOWN: [UP]},
                    rejects={"bad_json": 2, "unknown_unit": 1}, write_lags=[0.05, 0.25, 0.15]).sort()


def test_lead_times_before_the_crossing_of_the_highest_level_and_before_the_peak(timeline):
    leads = {x["station"]: x for x in lead_times(timeline)}
    hochtal = leads["gauge-hochtal"]
    assert hochtal["level"] == "watch" and hochtal["warning_id"] == WID
    assert hochtal["lead_crossing_s"] == 40 * 60 and hochtal["lead_peak_s"] == 100 * 60
    assert hochtal["peak_value"] == 2.9
    border = leads["gauge-grenzbruecke"]
    assert border["warning_ns"] is None and border["lead_crossing_s"] is None and border["lead_peak_s"] is None
    assert set(leads) == {"gauge-hochtal", "gauge-grenzbruecke"}


def test_time_to_acknowledge_counts_the_first_ack_of_each_partner(timeline):
    acks = {a["partner"]: a for a in ack_times(timeline)}
    # both partners are concerned by Hochtal's watch and Lacville's propagated watch
    assert acks[DOWN]["concerned"] == 2 and acks[DOWN]["acknowledged"] == 1
    assert acks[DOWN]["median_s"] == 2700.0 and acks[DOWN]["pending_ids"] == ["lv.1"]
    assert acks[UP]["acknowledged"] == 1 and acks[UP]["max_s"] == 3300.0  # the second rivertown ack is a replay
    assert acks[DOWN]["reminders"] == 1 and acks[UP]["reminders"] == 0


def test_warnings_without_event_and_events_without_warning(timeline):
    found = mismatches(timeline)
    assert [w["id"] for w in found["warnings_without_event"]] == ["lv.1"]  # the sensor notice is not a warning
    assert [(e["station"], e["level"]) for e in found["events_without_warning"]] == [("gauge-grenzbruecke", "advisory")]


def test_availability_against_the_usual_interval_with_gaps_and_faults(timeline):
    found = {a["station"]: a for a in availability(timeline)}
    assert found["gauge-hochtal"]["received"] == 13 and found["gauge-hochtal"]["availability"] == 1.0
    assert (found["gauge-hochtal"]["suspect"], found["gauge-hochtal"]["failed"]) == (2, 1)
    border = found["gauge-grenzbruecke"]
    assert border["expected"] == 13 and border["received"] == 10 and border["availability"] == round(10 / 13, 3)
    assert border["longest_gap_s"] == 40 * 60
    assert found["gauge-lacville"]["received"] == 0 and found["gauge-lacville"]["availability"] == 0.0
    assert found["wq-hochtal"]["sensor_notices"] == 1 and found["wq-hochtal"]["suspect"] == 3


def test_delivery_counts_events_cap_messages_and_write_lag(timeline):
    d = delivery(timeline)
    assert d["warning_events"] == d["cap_messages"] == 5
    assert d["events_by_state"] == {"cleared": 1, "escalated": 1, "raised": 3}
    assert d["write_lag_max_s"] == 0.25 and d["write_lag_mean_s"] == 0.15 and d["write_lag_samples"] == 3
    assert (d["acknowledgements"], d["reminders"], d["rejects"]) == (3, 1, 3)


def test_all_indicators_hold_every_section(timeline):
    assert set(all_indicators(timeline)) == {"lead_times", "ack_times", "warnings_without_event",
                                             "events_without_warning", "availability", "delivery"}


def test_an_empty_incident_has_no_leads_and_no_availability_ratio():
    empty = Timeline(T0, T0 + MIN, stations={(UP, "g"): StationData(UP, "g", "G")})
    assert lead_times(empty) == [] and mismatches(empty) == {"warnings_without_event": [], "events_without_warning": []}
    assert availability(empty)[0]["availability"] is None
    assert delivery(empty)["write_lag_max_s"] is None


def test_a_stations_warning_covers_the_crossings_of_its_other_quantities():
    """A water-quality warning raised on turbidity also warns of the conductivity crossing minutes
    later at the same sonde (the demo storm's plume had counted that as an event without warning)."""
    rows = [warning(10, UP, "wq-hochtal", "raised", "advisory", "wq.1", quantity="turbidity", hazard="water_quality"),
            Row(T0 + 8 * MIN, "crossing", UP, "wq-hochtal", quantity="turbidity", level="advisory", value=27.0),
            Row(T0 + 14 * MIN, "crossing", UP, "wq-hochtal", quantity="conductivity", level="advisory", value=1009.0)]
    found = mismatches(Timeline(T0, T0 + 60 * MIN, rows=rows).sort())
    assert found == {"warnings_without_event": [], "events_without_warning": []}
