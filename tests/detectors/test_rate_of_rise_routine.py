"""rate_of_rise on rivers that rise every day: a tidal reach is no flood, a surge on it is.

The failure mode: on a tidal gauge (a coast or an estuary city), every flood tide rises at 0.3–1.5 m/h
and each one was a flood warning, twice a day. The guards: floods on consecutive days and a flood
after a wet week are warned exactly as without the routine. The tides here are M2 + S2 (0.4 of M2, so springs
and neaps) + K1/O1 (a diurnal inequality), read every 15 minutes with 1 cm of noise.
"""

from __future__ import annotations

import math
import random

import pytest

from detectors import get
from detectors.base import example_station
from detectors.stats.daily_peaks import DailyPeaks
from detectors.stats.tide_check import TideCheck
from riverwatch.model import Level
from tests.helpers import detector_levels

STEP_S = 900.0
T0 = 1.8e9 // 86400 * 86400          # a midnight
HOUR = 3600.0
STATION = example_station(["water_level"])   # no catalog rates: the defaults 0.3 / 0.6 m/h


def tide(t: float, amplitude: float) -> float:
    """Stage (m) of a mixed semi-diurnal tide around 3 m."""
    h = (t - T0) / HOUR
    return (3.0 + amplitude * (math.sin(2 * math.pi * h / 12.42) + 0.4 * math.sin(2 * math.pi * h / 12.0 + 1.0)
                               + 0.15 * math.sin(2 * math.pi * h / 23.93)
                               + 0.1 * math.sin(2 * math.pi * h / 25.82 + 2.0)))


def surge(t: float, start_h: float, height: float, rise_h: float) -> float:
    """A storm surge: rises ``height`` m over ``rise_h`` hours from ``start_h``, then holds 6 h and ebbs."""
    h = (t - T0) / HOUR - start_h
    if h <= 0:
        return 0.0
    if h <= rise_h:
        return height * h / rise_h
    return height * max(0.0, 1.0 - max(0.0, h - rise_h - 6.0) / 6.0)


def run(values_at, days: float, seed: int = 0, **params) -> tuple[list[float], list[Level]]:
    rng = random.Random(seed)
    ts = [T0 + i * STEP_S for i in range(int(days * 86400 / STEP_S))]
    det = get("rate_of_rise").build(STATION, "water_level", params)
    return ts, detector_levels(det, [(t, values_at(t) + rng.gauss(0, 0.01)) for t in ts])


def raised(ts, levels, after_s: float = 0.0) -> int:
    """Warnings raised (NONE → a level) after ``after_s`` seconds of the record."""
    return sum(1 for i in range(1, len(ts)) if levels[i] > Level.NONE >= levels[i - 1] and ts[i] - T0 > after_s)


@pytest.mark.parametrize("amplitude", [0.5, 1.0, 2.0, 3.0])
def test_a_tide_is_not_a_flood_once_its_days_are_known(amplitude):
    ts, levels = run(lambda t: tide(t, amplitude), days=30)
    assert raised(ts, levels, after_s=4 * 86400) == 0        # from the fifth day on (4 days seen), through springs
    _, before = run(lambda t: tide(t, amplitude), days=30, routine_days=0)
    assert raised(ts, before, after_s=4 * 86400) >= 15       # the failure mode: a flood warning per tide


def test_a_storm_surge_on_the_tide_is_still_warned_before_it_peaks():
    start_h, rise_h = 20 * 24 + 3.0, 3.0                      # day 21, on a rising tide
    ts, levels = run(lambda t: tide(t, 1.0) + surge(t, start_h, 1.8, rise_h), days=24)
    first = next(t for t, lvl in zip(ts, levels) if lvl > Level.NONE and t - T0 > 4 * 86400)
    assert 0 < (first - T0) / HOUR - start_h < rise_h          # during the surge's rise


def release(t: float, height: float, weekdays_only: bool = True) -> float:
    """A hydropower release below a dam: up ``height`` m from 08:00 to 10:00, down from 18:00 to 20:00,
    every day but two in seven (a weekend) when ``weekdays_only``."""
    day, hour = divmod((t - T0) / HOUR, 24.0)
    if weekdays_only and day % 7 >= 5:
        return 0.0
    if 8 <= hour < 10:
        return height * (hour - 8) / 2
    if 18 <= hour < 20:
        return height * (20 - hour) / 2
    return height if 10 <= hour < 18 else 0.0


@pytest.mark.parametrize("height", [0.6, 1.2])
def test_weekday_releases_from_a_dam_are_no_flood_after_a_weekend(height):
    """Routine on most days of the week, not on every one of the last three: the two quiet days of a
    weekend made the releases after it flood warnings (15 in 8 weeks after the fourth day at 0.6 m, 21 at 1.2 m)."""
    ts, levels = run(lambda t: 1.0 + release(t, height), days=56)
    assert raised(ts, levels, after_s=4 * 86400) == 0
    _, every_day = run(lambda t: 1.0 + release(t, height), days=56, routine_days=3, routine_of=3)
    assert raised(ts, every_day, after_s=4 * 86400) >= 14      # the rule before: about two a week


def test_a_flood_in_a_week_of_releases_is_still_warned():
    flood_h = 30 * 24 + 12.0                                     # a weekday, on top of the release
    ts, levels = run(lambda t: 1.0 + release(t, 0.6) + 2.0 * math.exp(-(((t - T0) / HOUR - flood_h) / 3.0) ** 2),
                     days=33)
    first = next(t for t, lvl in zip(ts, levels) if lvl > Level.NONE and t - T0 > 4 * 86400)
    assert (first - T0) / HOUR < flood_h - 1.0                  # more than an hour before the crest


def test_floods_on_consecutive_days_are_each_warned():
    """A storm's wave, and another the next day: two days of fast rises are no routine."""
    def river(t: float) -> float:
        h = (t - T0) / HOUR
        return 1.0 + sum(2.0 * math.exp(-((h - c) / 2.0) ** 2) for c in (5 * 24 + 12, 6 * 24 + 14, 7 * 24 + 10))

    ts, levels = run(river, days=9)
    _, before = run(river, days=9, routine_days=0)
    assert raised(ts, levels) == 3
    assert levels == before


def test_a_wet_week_does_not_delay_a_flood():
    """Rain rises of 0.08 m/h on each of the three days before: the flood is warned on the same reading."""
    def river(t: float) -> float:
        h = (t - T0) / HOUR
        bumps = sum(0.4 * math.exp(-((h - c) / 3.0) ** 2) for c in (2 * 24 + 15, 3 * 24 + 16, 4 * 24 + 14))
        return 1.0 + bumps + 2.4 * math.exp(-((h - (5 * 24 + 12)) / 2.5) ** 2)

    def first(levels, ts):
        return next(t for t, lvl in zip(ts, levels) if lvl > Level.NONE)

    ts, levels = run(river, days=7)
    _, before = run(river, days=7, routine_days=0)
    assert first(levels, ts) == first(before, ts)
    assert (first(levels, ts) - T0) / HOUR < 5 * 24 + 12        # before the crest


def test_a_checkpoint_from_before_the_routine_restores_with_one():
    det = get("rate_of_rise").build(STATION, "water_level")
    state = det.__getstate__()
    del state["every_day"]
    again = type(det).__new__(type(det))
    again.__setstate__(state)
    e = again.every_day
    assert isinstance(e.peaks, DailyPeaks) and e.peaks.routine() == 0.0
    assert isinstance(e.tide, TideCheck) and not e.tide.tidal(e.tide_share)
    assert (e.factor, e.tide_share, e.tide_factor) == (2.0, 0.1, 1.25)


def test_a_checkpoint_from_before_the_weekly_routine_restores_with_it():
    ts, _ = run(lambda t: 1.0 + release(t, 0.6), days=1)
    det = get("rate_of_rise").build(STATION, "water_level")
    detector_levels(det, [(T0 + i * STEP_S, 1.0 + release(T0 + i * STEP_S, 0.6)) for i in range(20 * 96)])
    peaks = det.every_day.peaks
    old = {k: v for k, v in peaks.__getstate__().items() if k != "of"}
    old["days"] = 3                                            # written when the routine was 3 of 3 days
    restored = DailyPeaks.__new__(DailyPeaks)
    restored.__setstate__(old)
    assert (restored.days, restored.of) == (7, 4) and restored.routine() == peaks.routine() > 0
