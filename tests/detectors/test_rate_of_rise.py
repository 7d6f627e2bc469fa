"""rate_of_rise: a flood wave at the demo catalog's gauge, quiet on noise, capped level."""

from __future__ import annotations

import math
import pickle
import random
from pathlib import Path

import pytest

from detectors import get
from riverwatch.catalog import load_catalog
from riverwatch.model import Level
from tests.helpers import detector_levels

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "catalog" / "demo.toml")
HOCHTAL = CATALOG.station("rivertown", "gauge-hochtal")


def wave(t_h: float) -> float:
    """Stage (m): 1.2 m base, a flood wave peaking at 3.6 m after 10 h."""
    return 1.2 + 2.4 * math.exp(-((t_h - 10.0) / 2.5) ** 2)


def levels(det, values, step_s=300.0):
    return detector_levels(det, [(1.8e9 + i * step_s, v) for i, v in enumerate(values)])


def test_fires_on_the_rising_limb_of_a_flood_wave():
    det = get("rate_of_rise").build(HOCHTAL, "water_level")
    rng = random.Random(1)
    hours = [i / 12 for i in range(12 * 20)]
    out = levels(det, [wave(h) + rng.gauss(0, 0.005) for h in hours])
    first_watch = next(h for h, lvl in zip(hours, out) if lvl >= Level.WATCH)
    assert first_watch < 10.0                     # before the peak
    assert wave(first_watch) < 2.5                # before the watch stage is reached
    assert max(out) == Level.WATCH                # a rate alone never calls for more


def test_quiet_on_noisy_steady_river():
    det = get("rate_of_rise").build(HOCHTAL, "water_level")
    rng = random.Random(2)
    assert set(levels(det, [1.2 + rng.gauss(0, 0.03) for _ in range(2000)])) == {Level.NONE}


def first_warned_hour(name: str, step_s: float, noise: float, seed: int) -> float | None:
    """Hour of the first level above NONE on a 48 h record of a wave cresting at 30 h, read every ``step_s``."""
    rng = random.Random(seed)
    hours = [i * step_s / 3600 for i in range(int(48 * 3600 / step_s))]
    stage = [1.2 + 2.4 * math.exp(-((h - 30.0) / 4.0) ** 2) + rng.gauss(0, noise) for h in hours]
    out = levels(get(name).build(HOCHTAL, "water_level"), stage, step_s=step_s)
    return next((h for h, lvl in zip(hours, out) if lvl > Level.NONE), None)


@pytest.mark.parametrize("name", ["rate_of_rise", "time_to_threshold"])
@pytest.mark.parametrize("step_s", [60.0, 120.0, 180.0])
def test_a_gauge_read_every_minute_or_two_is_warned_as_early_as_one_read_every_quarter_hour(name, step_s):
    """Six readings a minute apart span five minutes, too short for a slope: both forecasting
    detectors were blind at 1-2 minute readings (the stage crossing warned 1.5 h later). The window
    now keeps points at least 5 minutes apart, so six of them span the same time at any cadence."""
    quarter_hourly = first_warned_hour(name, 900.0, 0.01, seed=1)
    first = first_warned_hour(name, step_s, 0.01, seed=1)
    assert first is not None and first <= quarter_hourly
    advisory_stage_reached = 30.0 - 4.0 * math.sqrt(math.log(2.4 / 0.8))    # 2.0 m at 25.8 h
    assert first < advisory_stage_reached - 1.0


def test_quiet_on_a_noisy_steady_river_read_every_minute():
    det = get("rate_of_rise").build(HOCHTAL, "water_level")
    rng = random.Random(8)
    values = [1.2 + 0.04 * math.sin(2 * math.pi * i / 1440) + rng.gauss(0, 0.03) for i in range(3 * 1440)]
    assert set(levels(det, values, step_s=60.0)) == {Level.NONE}


def test_falling_river_is_not_a_rise():
    det = get("rate_of_rise").build(HOCHTAL, "water_level")
    assert set(levels(det, [3.0 - 0.01 * i for i in range(200)])) == {Level.NONE}


def test_rates_follow_catalog_max_rate():
    det = get("rate_of_rise").build(HOCHTAL, "water_level")
    assert det.rates == pytest.approx((0.15, 0.3, 0.6, 1.2))
    f = det.evidence({"t": 0.0, "water_level": 1.0}, 0.0)
    assert f.hazard == "flood" and f.detector == "rate_of_rise"


def test_sudden_jump_warns_though_the_robust_slope_discounts_it():
    flat = [1.2 - 0.001 * i for i in range(12)]
    out = levels(get("rate_of_rise").build(HOCHTAL, "water_level"), flat + [2.0, 2.4, 2.3, 2.0], step_s=900.0)
    assert max(out[12:]) >= Level.ADVISORY
    off = get("rate_of_rise").build(HOCHTAL, "water_level", {"jump_s": 0})
    assert max(levels(off, flat + [2.0, 2.4, 2.3, 2.0], step_s=900.0)) == Level.NONE


def test_a_lone_spike_that_returns_does_not_warn():
    flat = [1.2] * 12
    out = levels(get("rate_of_rise").build(HOCHTAL, "water_level"), flat + [2.5] + flat, step_s=900.0)
    assert max(out) == Level.NONE


def feed(det, points):
    """Levels for ``(t_h, value)`` points (hours since an arbitrary start)."""
    return detector_levels(det, [(1.8e9 + t_h * 3600.0, v) for t_h, v in points])


def test_a_gauge_back_from_a_silent_storm_much_higher_warns():
    before = [(i / 4, 1.2) for i in range(24)]                       # 6 h, 15-minute readings
    after = [(30 + i / 4, 2.4 - 0.05 * i) for i in range(8)]         # back 24 h later, 1.2 m up, falling
    out = feed(get("rate_of_rise").build(HOCHTAL, "water_level"), before + after)
    assert max(out[24:]) >= Level.ADVISORY
    assert out[24] == Level.NONE                                     # persistence: one reading is not enough


def test_a_gauge_back_from_a_gap_at_its_old_level_is_quiet():
    before = [(i / 4, 1.2) for i in range(24)]
    after = [(30 + i / 4, 1.22) for i in range(8)]
    assert max(feed(get("rate_of_rise").build(HOCHTAL, "water_level"), before + after)) == Level.NONE


def test_a_rise_across_a_gap_counts_only_for_jump_s_after_the_gauge_is_back():
    before = [(i / 4, 1.2) for i in range(24)]
    after = [(30 + i / 4, 2.4) for i in range(16)]                   # high and steady for 4 h
    out = feed(get("rate_of_rise").build(HOCHTAL, "water_level"), before + after)
    assert max(out[24:28]) >= Level.ADVISORY and set(out[30:]) == {Level.NONE}


def test_a_checkpoint_from_before_gap_handling_restores():
    det = get("rate_of_rise").build(HOCHTAL, "water_level")
    feed(det, [(i / 4, 1.2) for i in range(12)])
    gap_slots = ("before_gap", "gap_intervals", "interval")
    old = {k: v for k, v in det.__getstate__().items() if k not in gap_slots}  # written before them
    restored = type(det).__new__(type(det))
    restored.__setstate__(old)
    after = feed(restored, [(3 + i / 4, v) for i, v in enumerate([1.2, 2.0, 2.4, 2.3])])
    assert max(after) >= Level.ADVISORY


def test_a_checkpoint_from_before_the_window_was_thinned_restores_thinned():
    det = get("rate_of_rise").build(HOCHTAL, "water_level")
    feed(det, [(i / 60, 1.2) for i in range(60)])
    window = det.window.__getstate__()
    old_window = type(det.window).__new__(type(det.window))
    old_window.__setstate__({k: v for k, v in window.items() if k not in ("step_s", "last")})
    restored = type(det).__new__(type(det))
    restored.__setstate__({**det.__getstate__(), "window": old_window})
    assert restored.window.step_s == 300.0 and restored.window.last == (restored.window.ts[-1], 1.2)
    rising = [(1 + i / 60, 1.2 + 0.8 * i / 60) for i in range(1, 60)]   # 0.8 m/h, read every minute
    assert max(feed(restored, rising)) >= Level.ADVISORY


def test_a_checkpoint_whose_window_kept_deques_restores_into_lists():
    from collections import deque
    det = get("rate_of_rise").build(HOCHTAL, "water_level")
    feed(det, [(i / 4, 1.2) for i in range(12)])
    w = det.window
    old_window = type(w).__new__(type(w))
    old_window.__setstate__({"ts": deque(w.ts, maxlen=5), "vs": deque(w.vs, maxlen=5), "span_s": w.span_s})
    twin = pickle.loads(pickle.dumps(det))                 # shares no state with det
    restored = type(det).__new__(type(det))
    restored.__setstate__({**twin.__getstate__(), "window": old_window})
    assert (restored.window.size, restored.window.ts, restored.window.step_s) == (5, w.ts, 300.0)
    after = feed(restored, [(3 + i / 4, v) for i, v in enumerate([1.2, 2.0, 2.4, 2.3])])
    assert after == feed(det, [(3 + i / 4, v) for i, v in enumerate([1.2, 2.0, 2.4, 2.3])])
