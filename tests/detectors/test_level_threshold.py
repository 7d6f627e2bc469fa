"""Behaviour of level_threshold: hysteresis, persistence, direction, hazards."""

from __future__ import annotations

from pathlib import Path

from detectors import get
from riverwatch.catalog import Station, load_catalog
from riverwatch.model import Level

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "catalog" / "demo.toml")


def run(det, values, step_s=600.0):
    levels = []
    for i, v in enumerate(values):
        x = {"t": 1.8e9 + i * step_s, det.quantity: v}
        s = det.score_one(x)
        det.learn_one(x)
        levels.append(det.level(s))
    return levels


def gauge():
    st = CATALOG.station("rivertown", "gauge-hochtal")
    return get("level_threshold").build(st, "water_level")


def test_hovering_at_threshold_does_not_flap():
    det = gauge()
    hover = [2.49, 2.51, 2.50, 2.48, 2.52, 2.49, 2.51, 2.47, 2.53, 2.50] * 5
    levels = run(det, [2.3] * 3 + hover)
    assert levels[2] == Level.ADVISORY
    changes = sum(1 for a, b in zip(levels[3:], levels[4:]) if a != b)
    assert changes <= 1


def test_escalates_after_persistence_and_falls_back_below_hysteresis():
    det = gauge()
    levels = run(det, [1.5, 3.1, 3.1, 3.1, 2.9, 2.9, 2.9, 2.8, 2.8, 2.8, 1.0, 1.0, 1.0])
    assert levels[1] == Level.NONE            # one reading is not enough
    assert levels[3] == Level.WARNING
    assert levels[5] == Level.WARNING         # 2.9 is within 5 % of 3.0: held
    assert levels[9] == Level.WATCH           # 2.8 < 3.0 - 0.15: back to watch
    assert levels[-1] == Level.NONE


def test_single_spike_never_reported():
    det = gauge()
    assert set(run(det, [1.5] * 5 + [9.0] + [1.5] * 5)) == {Level.NONE}


def test_below_direction_dissolved_oxygen():
    st = CATALOG.station("rivertown", "wq-hochtal")
    det = get("level_threshold").build(st, "dissolved_oxygen")
    assert det.hazard == "water_quality"
    levels = run(det, [8.0, 8.0, 4.5, 4.5, 4.5, 4.5])
    assert levels[-1] == Level.WATCH
    low, high = ({"t": 0.0, "dissolved_oxygen": v} for v in (3.0, 8.0))
    assert det.score_one(low) > det.score_one(high)


def test_hazard_follows_quantity_and_applies_to_quantities_with_levels():
    spec = get("level_threshold")
    wx = CATALOG.station("rivertown", "wx-rivertown")
    assert spec.applies(wx) == ["wind_speed"]  # precipitation: rainfall (accumulations)
    assert spec.build(wx, "precipitation").hazard == "weather"
    assert gauge().hazard == "flood"


def test_evidence_names_threshold_of_current_level():
    det = gauge()
    run(det, [3.2, 3.2, 3.2])
    x = {"t": 1.8e9 + 1800.0, "water_level": 3.2}
    s = det.score_one(x)
    f = det.evidence(x, s)
    assert (f.level, f.threshold, f.hazard, f.quantity) == (Level.WARNING, 3.0, "flood", "water_level")


def test_station_without_levels_scores_zero():
    st = Station(id="s", partner="p", kind="river_gauge", name="S", lat=0, lon=0,
                 quantities={"water_level": {}})
    det = get("level_threshold").build(st, "water_level")
    assert det.score_one({"t": 0.0, "water_level": 5.0}) == 0.0
