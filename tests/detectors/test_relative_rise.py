"""relative_rise: a slow lowland flood at a gauge without thresholds is warned well before its
half-rise crossing; a fast wave is still warned; a quiet river with noise and rain bumps is not."""

from __future__ import annotations

import math
import random

from detectors import get
from detectors.base import example_station
from riverwatch.model import Level
from tests.helpers import detector_levels

STEP = 900.0                      # 15-minute readings
NO_THRESHOLDS = example_station(["water_level"])


def run(name, values):
    det = get(name).build(NO_THRESHOLDS, "water_level")
    return detector_levels(det, [(1.8e9 + i * STEP, v) for i, v in enumerate(values)])


def quiet(h: float, rng: random.Random) -> float:
    """A river at 1.0 m with a 4 cm diurnal swing and 1 cm sensor noise."""
    return 1.0 + 0.04 * math.sin(2 * math.pi * h / 24) + rng.gauss(0, 0.01)


def test_slow_lowland_flood_is_warned_well_before_the_half_rise():
    rng = random.Random(3)
    hours = [i * STEP / 3600 for i in range(int(10 * 86400 / STEP))]
    onset, rate, days = 5 * 24.0, 0.03, 3                # 3 cm/h for 3 days from day 5
    stage = [quiet(h, rng) + rate * min(max(0.0, h - onset), 24 * days) for h in hours]
    half = onset + 24 * days / 2                          # half-rise crossing, 36 h into the rise
    assert set(run("rate_of_rise", stage)) == {Level.NONE}          # today's detectors: no warning
    out = run("relative_rise", stage)
    first = next(h for h, lvl in zip(hours, out) if lvl > Level.NONE)
    assert onset < first < half - 24                       # at least a day before the half-rise crossing
    assert max(out) >= Level.WATCH
    assert all(lvl > Level.NONE for h, lvl in zip(hours, out) if first <= h <= half)   # stays open


def test_fast_texas_wave_is_still_warned():
    rng = random.Random(4)
    hours = [i * STEP / 3600 for i in range(int(6 * 86400 / STEP))]
    crest = 4 * 24.0
    stage = [quiet(h, rng) + 4.0 * math.exp(-((h - crest) / 3.0) ** 2) for h in hours]
    half = next(h for h, v in zip(hours, stage) if v > 3.0)
    out = run("relative_rise", stage)
    first = next(h for h, lvl in zip(hours, out) if lvl > Level.NONE)
    assert first < half


def test_quiet_river_with_noise_and_small_rain_bumps_raises_nothing():
    rng = random.Random(5)
    hours = [i * STEP / 3600 for i in range(int(20 * 86400 / STEP))]
    bumps = [30 + 40 * k + rng.uniform(0, 20) for k in range(11)]     # a 4-8 cm rain bump every ~2 days
    size = [rng.uniform(0.04, 0.08) for _ in bumps]
    stage = [quiet(h, rng) + sum(a * math.exp(-((h - b) / 4.0) ** 2) for a, b in zip(size, bumps))
             for h in hours]
    assert set(run("relative_rise", stage)) == {Level.NONE}


def test_watches_only_gauges_without_stage_thresholds():
    spec = get("relative_rise")
    assert spec.hazard == "flood"
    assert spec.applies(NO_THRESHOLDS) == ["water_level"]
    assert spec.applies(example_station({"water_level": {"levels": {"watch": 2.5}}})) == []
    assert spec.applies(example_station(["turbidity"])) == []
