"""time_to_threshold: warns before a stage is crossed, with a forecast crossing time."""

from __future__ import annotations

import random
from pathlib import Path

from detectors import get
from riverwatch.catalog import load_catalog
from riverwatch.model import Level

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "catalog" / "demo.toml")
HOCHTAL = CATALOG.station("rivertown", "gauge-hochtal")
T0 = 1.8e9


def feed(det, values, step_s=600.0):
    out = []
    for i, v in enumerate(values):
        x = {"t": T0 + i * step_s, "water_level": v}
        s = det.score_one(x)
        det.learn_one(x)
        out.append((x, s, det.level(s), det.evidence(x, s)))
    return out


def test_warns_before_watch_crossing_with_expected_at_within_tolerance():
    det = get("time_to_threshold").build(HOCHTAL, "water_level")
    rng = random.Random(3)
    # 1.5 m rising 0.3 m/h: advisory 2.0 m after 100 min, watch 2.5 m after 200 min
    out = feed(det, [1.5 + 0.05 * i + rng.gauss(0, 0.005) for i in range(30)])
    watch = [(x, f) for x, s, lvl, f in out if lvl == Level.WATCH]
    assert watch
    x, f = watch[0]
    crossing = T0 + 200 * 60.0
    assert x["t"] < crossing - 3600           # at least an hour of lead time
    assert f.level == Level.WATCH and f.threshold == 2.5
    assert abs(f.expected_at - crossing) < 15 * 60


def test_no_warning_without_a_significant_trend():
    det = get("time_to_threshold").build(HOCHTAL, "water_level")
    rng = random.Random(4)
    out = feed(det, [1.9 + rng.gauss(0, 0.02) for _ in range(500)])
    assert all(lvl == Level.NONE for _, _, lvl, _ in out)


def test_no_warning_when_crossing_is_beyond_horizon():
    det = get("time_to_threshold").build(HOCHTAL, "water_level")
    out = feed(det, [1.0 + 0.01 * i for i in range(30)])     # 0.06 m/h: advisory in > 10 h
    assert all(lvl == Level.NONE for _, _, lvl, _ in out)


def test_score_encodes_level_to_be_crossed():
    det = get("time_to_threshold").build(HOCHTAL, "water_level")
    assert det.level(2.4) == Level.WATCH and det.level(0.3) == Level.NONE
