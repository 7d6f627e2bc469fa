"""The warning lifecycle and sensor flags agree: a warning resting only on a flagged sensor is held."""

from __future__ import annotations

import json
import math
from pathlib import Path


from detectors import get
from detectors.base import Finding
from early_warning.lifecycle import LifecycleParams, WarningBook, stream_id
from riverwatch.catalog import load_catalog
from riverwatch.model import Level, Observation
from riverwatch.settings import Settings

from ingest.pipeline import Pipeline
from tests.helpers import stuck_high_spec

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "catalog" / "demo.toml")
HOCHTAL = CATALOG.station("rivertown", "gauge-hochtal")
GRENZ = CATALOG.station("rivertown", "gauge-grenzbruecke")
WQ_UP = CATALOG.station("rivertown", "wq-hochtal")
T0 = 1_800_000_000.0
PARAMS = LifecycleParams(min_duration_s=600, clear_after_s=900, flap_window_s=3600)
LT = stream_id("level_threshold", "water_level")
SF = stream_id("sensor_fault", "water_level")


def flood(level, quantity="water_level", detector="level_threshold", hazard="flood", details=()):
    return lambda: Finding(detector, hazard, Level(level), quantity, 2.6, 1.3, 2.5, None, "", details)


def flag(level, quantity="water_level", fault="rate"):
    return lambda: Finding("sensor_fault", "sensor", Level(level), quantity, 4.4, 2.5, None, None,
                           f"sensor.{fault}", (("fault", fault), ("ratio", "2.5")))


def at(station, events, hazard="flood"):
    return [e for e in events if e.station == station.id and e.hazard == hazard]


def test_flood_warning_on_a_flagged_sensor_is_held_until_the_flag_clears():
    book = WarningBook(CATALOG, PARAMS)
    events = book.update(HOCHTAL, "sensor", SF, Level.WATCH, T0, flag(2))
    events += book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, flood(2))
    raised = at(HOCHTAL, events)
    assert [(e.state, e.public) for e in raised] == [("raised", False)]
    assert ("held_for_sensor", "water_level") in raised[0].details
    assert not at(GRENZ, events), "a held warning does not travel downstream"
    # still flagged: still held
    events = book.update(HOCHTAL, "sensor", SF, Level.WATCH, T0 + 300, flag(2))
    events += book.update(HOCHTAL, "flood", LT, Level.WATCH, T0 + 300, flood(2))
    assert not [e for e in events if e.public]
    # the flag clears while the water stays high: public, and the wave is announced downstream
    events = book.update(HOCHTAL, "sensor", SF, Level.NONE, T0 + 600, flag(0))
    own = at(HOCHTAL, events)
    assert [(e.state, e.public) for e in own] == [("updated", True)]
    assert not any(k == "held_for_sensor" for k, _ in own[0].details)
    assert [(e.state, e.public, e.detector) for e in at(GRENZ, events)] == [("raised", True, "propagation")]


def test_a_warning_that_went_quiet_while_held_is_never_published():
    book = WarningBook(CATALOG, PARAMS)
    events = book.update(HOCHTAL, "sensor", SF, Level.WATCH, T0, flag(2))
    events += book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, flood(2))
    events += book.update(HOCHTAL, "flood", LT, Level.NONE, T0 + 300, flood(0))
    events += book.update(HOCHTAL, "sensor", SF, Level.NONE, T0 + 300, flag(0))
    for i in range(2, 12):
        events += book.tick(T0 + 300 * i)
    assert [e.state for e in at(HOCHTAL, events)] == ["raised", "cleared"]
    assert not [e for e in events if e.public]


def test_a_public_warning_is_withdrawn_when_its_only_sensor_is_flagged():
    book = WarningBook(CATALOG, PARAMS)
    events = book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, flood(2))
    assert at(HOCHTAL, events)[0].public and at(GRENZ, events)[0].public
    events = book.update(HOCHTAL, "sensor", SF, Level.WATCH, T0 + 300, flag(2, fault="stuck"))
    own = at(HOCHTAL, events)
    assert [(e.state, e.public) for e in own] == [("updated", False)]
    assert dict(own[0].details)["held_for_sensor"] == "water_level"


def test_an_upstream_warning_corroborates_a_flagged_gauge():
    book = WarningBook(CATALOG, PARAMS)
    events = book.update(GRENZ, "sensor", SF, Level.WATCH, T0, flag(2))
    events += book.update(GRENZ, "flood", LT, Level.WATCH, T0, flood(2))
    assert [(e.state, e.public) for e in at(GRENZ, events)] == [("raised", False)]
    # the wave shows upstream: the border gauge's rise is real, whatever its sensor flag says
    events = book.update(HOCHTAL, "flood", LT, Level.WATCH, T0 + 300, flood(2))
    grenz = at(GRENZ, events)
    assert grenz and grenz[-1].public and not any(k == "held_for_sensor" for k, _ in grenz[-1].details)


def test_another_quantity_corroborates_a_flagged_one():
    book = WarningBook(CATALOG, PARAMS)
    book.update(WQ_UP, "sensor", stream_id("sensor_fault", "turbidity"), Level.WATCH, T0,
                flag(2, quantity="turbidity"))
    alone = book.update(WQ_UP, "water_quality", "water_quality_event", Level.WATCH, T0,
                        flood(2, "turbidity", "water_quality_event", "water_quality",
                              (("quantities", "turbidity"),)))
    assert [(e.state, e.public) for e in alone] == [("raised", False)]
    together = book.update(WQ_UP, "water_quality", "water_quality_event", Level.WARNING, T0 + 300,
                           flood(3, "turbidity", "water_quality_event", "water_quality",
                                 (("quantities", "turbidity,conductivity"),)))
    assert [(e.state, e.public) for e in together] == [("escalated", True)]


def test_a_dropout_does_not_hold_a_warning_back():
    book = WarningBook(CATALOG, PARAMS)
    book.update(HOCHTAL, "sensor", SF, Level.ADVISORY, T0, flag(1, fault="dropout"))
    events = book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, flood(2))
    assert at(HOCHTAL, events)[0].public


def test_two_flagged_neighbours_do_not_corroborate_each_other():
    book = WarningBook(CATALOG, PARAMS)
    for st in (HOCHTAL, GRENZ):
        book.update(st, "sensor", SF, Level.WATCH, T0, flag(2))
    events = book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, flood(2))
    events += book.update(GRENZ, "flood", LT, Level.WATCH, T0, flood(2))
    assert events and not [e for e in events if e.public]


def test_held_state_survives_a_snapshot():
    book = WarningBook(CATALOG, PARAMS)
    book.update(HOCHTAL, "sensor", SF, Level.WATCH, T0, flag(2))
    book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, flood(2))
    restored = WarningBook.restore(CATALOG, json.loads(json.dumps(book.snapshot())), PARAMS)
    assert restored.snapshot() == book.snapshot()
    a = book.update(HOCHTAL, "sensor", SF, Level.NONE, T0 + 600, flag(0))
    b = restored.update(HOCHTAL, "sensor", SF, Level.NONE, T0 + 600, flag(0))
    assert a == b and at(HOCHTAL, b)[0].public


def test_pipeline_judges_a_reading_knowing_its_sensor_flags():
    # level_threshold is listed (and scored) first; its warning must still never be public
    sensor = stuck_high_spec()
    pipe = Pipeline(CATALOG, Settings(), specs=[get("level_threshold"), sensor])
    events = []
    for i, level in enumerate([1.2, 1.3, 2.8, 2.9, 3.0, 3.1, 3.1]):
        obs = Observation("rivertown", "gauge-hochtal", int((T0 + 600 * i) * 1e9), i + 1,
                          (("water_level", level),))
        events += pipe.process(obs, [])
    flood_events = [e for e in events if e.hazard == "flood"]
    sensor_events = [e for e in events if e.hazard == "sensor"]
    assert sensor_events[0].time_ns == flood_events[0].time_ns  # the same reading
    assert flood_events and not [e for e in flood_events if e.public]
    assert all(dict(e.details).get("held_for_sensor") == "water_level" for e in flood_events)


def frozen(since_s: float):
    return lambda: Finding("sensor_fault", "sensor", Level.ADVISORY, "water_level", 3.2, 1.0, None, None,
                           "sensor.stuck", (("fault", "stuck"), ("ratio", "1"), ("frozen_since_s", f"{since_s:.3f}")))


def test_a_gauge_that_freezes_after_its_warning_rose_keeps_the_warning_public():
    book = WarningBook(CATALOG, PARAMS)
    assert at(HOCHTAL, book.update(HOCHTAL, "flood", LT, Level.WARNING, T0, flood(3)))[0].public
    # six hours later the gauge has read the same value since T0 (pinned at the top of its range)
    events = book.update(HOCHTAL, "sensor", SF, Level.ADVISORY, T0 + 6 * 3600, frozen(T0))
    events += book.update(HOCHTAL, "flood", LT, Level.WARNING, T0 + 6 * 3600, flood(3))
    assert not [e for e in at(HOCHTAL, events) if not e.public]
    assert book.snapshot() == WarningBook.restore(CATALOG, json.loads(json.dumps(book.snapshot())),
                                                  PARAMS).snapshot()


def test_a_warning_that_rose_on_a_frozen_value_is_still_held():
    book = WarningBook(CATALOG, PARAMS)
    book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, flood(2))
    # frozen since T0 + 300 (a jump that stuck); the warning escalates on the frozen value
    book.update(HOCHTAL, "sensor", SF, Level.ADVISORY, T0 + 600, frozen(T0 + 300))
    events = book.update(HOCHTAL, "flood", LT, Level.WARNING, T0 + 900, flood(3))
    assert [(e.state, e.public) for e in at(HOCHTAL, events)] == [("escalated", False)]
    assert dict(at(HOCHTAL, events)[0].details)["held_for_sensor"] == "water_level"


def test_a_flood_whose_gauge_is_pinned_at_the_crest_stays_public_through_the_pipeline():
    """The gauge reads at most 3.2 m: the crest (3.9 m) is flat for 11 h, long enough to be flagged
    stuck. The flood warning, public since the rise, was withdrawn at the crest; it now stays public."""
    detectors = ["level_threshold", "rate_of_rise", "time_to_threshold", "sensor_fault"]
    pipe = Pipeline(CATALOG, Settings(ingest={"detectors": detectors}))
    events = []
    for i in range(4 * 24 * 4):
        h = i / 4
        river = 1.2 + 2.7 * math.exp(-((h - 60.0) / 9.0) ** 2)
        level = 3.2 if river >= 3.2 else round(river + 0.003 * math.sin(i), 3)
        obs = Observation("rivertown", "gauge-hochtal", int((T0 + 900 * i) * 1e9), i + 1,
                          (("water_level", level),))
        events += pipe.process(obs, [])
    stuck = [e for e in events if e.hazard == "sensor" and dict(e.details).get("fault") == "stuck"]
    assert stuck, "the pinned crest is flagged stuck"
    own = [e for e in events if e.hazard == "flood" and e.station == "gauge-hochtal"]
    first_public = next(i for i, e in enumerate(own) if e.public)
    assert all(e.public for e in own[first_public:] if e.state != "cleared")


def test_a_held_warning_stays_held_when_the_station_falls_silent():
    """An outage longer than ``stale_after_s`` drops the flag and the evidence together: the flag
    going stale says nothing about the sensor, so the warning must not go public on the way out."""
    book = WarningBook(CATALOG, PARAMS)
    events = book.update(HOCHTAL, "sensor", SF, Level.WATCH, T0, flag(2))
    events += book.update(HOCHTAL, "flood", LT, Level.WATCH, T0, flood(2))
    assert [(e.state, e.public) for e in at(HOCHTAL, events)] == [("raised", False)]
    silent = PARAMS.times("flood").stale_after_s + 600
    events = book.tick(T0 + silent)
    for i in range(1, 8):
        events += book.tick(T0 + silent + 300 * i)
    assert at(HOCHTAL, events)[-1].state == "cleared"
    assert not [e for e in events if e.public]


def crest_with_codes(codes: dict[int, float | None]) -> list:
    """The warning events of a 3.9 m flood crest read every 15 minutes through the pipeline, with
    ``codes`` (reading → value, None: not sent) in place of some readings."""
    detectors = ["level_threshold", "rate_of_rise", "time_to_threshold", "sensor_fault"]
    pipe = Pipeline(CATALOG, Settings(ingest={"detectors": detectors}))
    events = []
    for i in range(3 * 24 * 4):
        level = codes.get(i, round(1.2 + 2.7 * math.exp(-((i / 4 - 40.0) / 9.0) ** 2) + 0.003 * math.sin(i), 3))
        if level is not None:
            obs = Observation("rivertown", "gauge-hochtal", int((T0 + 900 * i) * 1e9), i + 1,
                              (("water_level", level),))
            events += pipe.process(obs, [])
        events += pipe.tick(T0 + 900 * i)
    assert pipe.counters.readings_failed == sum(1 for v in codes.values() if v is not None)
    return events


def test_error_codes_raise_a_maintenance_notice_and_leave_the_public_flood_warning_alone():
    """A gauge sending its logger's −9999 at the crest: QC fails the codes, so no flood detector sees
    them. They used to reach no sensor check either (no notice at all); now they raise the
    ``impossible`` notice, and the flood warning, which rests on the values that passed, is public
    exactly as if the codes had not been sent (were the notice to hold it back, one code in a
    storm would withdraw a public flood warning)."""
    codes = {i: -9999.0 for i in (150, 160, 161, 175)}
    with_codes = crest_with_codes(codes)
    notices = [e for e in with_codes if e.hazard == "sensor"]
    assert notices and {dict(e.details).get("fault") for e in notices if e.state == "raised"} == {"impossible"}
    assert all(not e.public for e in notices)
    flood = [(e.state, e.level, e.public, e.time_ns) for e in with_codes if e.hazard == "flood"]
    unsent = [(e.state, e.level, e.public, e.time_ns) for e in crest_with_codes(dict.fromkeys(codes)) if e.hazard == "flood"]
    assert any(public for _, _, public, _ in flood) and flood == unsent
