"""Pipeline: reading and score lines, warnings through the lifecycle, failures counted, checkpoints."""

from __future__ import annotations

import pickle

import pytest
from pydantic import BaseModel

from detectors.base import DetectorSpec, Finding
from riverwatch.catalog import load_catalog
from riverwatch.model import Level, Observation
from riverwatch.settings import REPO_ROOT, Settings

from ingest.pipeline import Pipeline

CATALOG = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
T0 = 1_800_000_000


def gauge_obs(i: int, level: float, station: str = "gauge-hochtal") -> Observation:
    return Observation("rivertown", station, (T0 + 600 * i) * 10**9, i,
                       (("water_level", level), ("discharge", 10.0 + i), ("water_temperature", 11.0 + 0.1 * i)))


def run(pipe: Pipeline, levels, start: int = 0):
    lines, events = [], []
    for i, level in enumerate(levels, start):
        events += pipe.process(gauge_obs(i, level), lines)
    return lines, events


def test_reading_and_score_lines():
    pipe = Pipeline(CATALOG, Settings(ingest={"detectors": ["level_threshold"]}))
    lines, _ = run(pipe, [1.0, 9999.0])                 # a logger's "no data" code
    readings = [line for line in lines if line.startswith("reading,")]
    scores = [line for line in lines if line.startswith("score,")]
    assert len(readings) == 6
    assert readings[3].startswith("reading,partner=rivertown,station=gauge-hochtal,quantity=water_level,"
                                  "kind=river_gauge value=9999.0,qc=4i,seq=1i ")
    # the FAILed value is left out of x, so level_threshold scores only the first message
    assert len(scores) == 1 and "level_threshold=" in scores[0] and "level_threshold_level=0i" in scores[0]
    assert pipe.counters.readings_failed == 1


def test_rising_water_raises_and_propagates_a_flood_warning():
    pipe = Pipeline(CATALOG, Settings(ingest={"detectors": ["level_threshold"]}))
    _, events = run(pipe, [1.0, 2.0, 2.8, 3.1, 3.2, 3.3, 3.4])
    own = [e for e in events if e.station == "gauge-hochtal"]
    assert own[0].state == "raised" and max(e.level for e in own) == Level.WARNING
    assert {e.station for e in events} >= {"gauge-grenzbruecke", "gauge-lacville"}  # downstream
    assert any(w.station == "gauge-hochtal" for w in pipe.open_warnings())


class BrokenParams(BaseModel):
    pass


class Broken:
    def score_one(self, x):
        raise ZeroDivisionError("bug")

    def learn_one(self, x):
        pass

    def level(self, score):
        return Level.NONE

    def evidence(self, x, score):
        return Finding("broken", "anomaly", Level.NONE, "water_level", 0.0, score)


def test_a_failing_detector_is_counted_not_fatal():
    spec = DetectorSpec("broken", lambda st, q, p: Broken(), BrokenParams, "anomaly", lambda st, p=None: ["water_level"])
    pipe = Pipeline(CATALOG, Settings(), specs=[spec])
    lines, events = run(pipe, [1.0, 1.1])
    assert pipe.counters.detector_errors == 2 and len(lines) == 6 and events == []


def test_snapshot_restores_detectors_qc_and_warnings():
    settings = Settings(ingest={"detectors": ["level_threshold", "rate_of_rise"]})
    levels = [1.0, 1.5, 2.2, 2.9, 3.3, 3.5, 3.6, 3.5]
    whole = Pipeline(CATALOG, settings)
    expected_lines, expected_events = run(whole, levels)
    first = Pipeline(CATALOG, settings)
    run(first, levels[:4])
    second = Pipeline(CATALOG, settings)
    second.restore(pickle.loads(pickle.dumps(first.snapshot())))
    lines, events = run(second, levels[4:], start=4)
    assert lines == expected_lines[-len(lines):]
    assert [(e.station, e.state, e.level) for e in events] == [
        (e.station, e.state, e.level) for e in expected_events if e.time_ns >= (T0 + 600 * 4) * 10**9]


def test_unknown_detector_is_a_config_error():
    from riverwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown detector"):
        Pipeline(CATALOG, Settings(ingest={"detectors": ["no_such_detector"]}))


def test_the_book_takes_the_lifecycle_settings_and_keeps_them_on_restore():
    def flood_events(lifecycle):
        pipe = Pipeline(CATALOG, Settings(ingest={"detectors": ["level_threshold"]}, lifecycle=lifecycle))
        events = []
        for i, level in enumerate([1.0, 2.8, 2.9, 3.0] + [1.0] * 12):
            events += pipe.process(gauge_obs(i, level), []) + pipe.tick()
        return pipe, [(e.station, e.state, (e.time_ns // 10**9 - T0) // 600) for e in events if e.state != "updated"]

    pipe, events = flood_events({"propagate_hazards": [], "flood": {"clear_after_s": 600, "min_duration_s": 600}})
    assert events == [("gauge-hochtal", "raised", 2), ("gauge-hochtal", "cleared", 6)]
    _, events = flood_events({})  # the defaults: propagated downstream, cleared after 30 min of quiet
    assert ("gauge-hochtal", "cleared", 8) in events and ("gauge-lacville", "raised", 2) in events
    params = pipe.book.params
    assert params.times("flood").clear_after_s == 600.0 and params.propagate_hazards == ()
    pipe.restore(pipe.snapshot())
    assert pipe.book.params is params


def test_unknown_lifecycle_hazard_is_a_config_error():
    from riverwatch.errors import ConfigError

    with pytest.raises(ConfigError, match=r"lifecycle\.flod"):
        Pipeline(CATALOG, Settings(lifecycle={"flod": {"clear_after_s": 600}}))
