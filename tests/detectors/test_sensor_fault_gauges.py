"""sensor_fault on real river gauges (issue #11): what a real flood or a real low-flow recession does
that the checks mistook for a fault, found by replaying the Texas USGS and UK EA flood gauges (no
faults labelled there). Each test reproduces one failure mode on synthetic readings.
"""

from __future__ import annotations

import math
import random

import pytest

from tests.detectors.test_sensor_fault import GAUGE, HALF_HOUR, faults

QUARTER = 900.0


def flashy_storm(seed=3, calm_days=3.0):
    """Stage of a small urban catchment at 15-minute readings (cm-ish resolution): calm at 1.22 m,
    then a storm of rain bursts, each a pulse that rises within a reading or two and recedes within
    an hour (the San Antonio River at San Antonio, 29–30 May 2016: 1.12 → 1.80 → 1.29 → 1.11 m)."""
    rng = random.Random(seed)
    n_calm = int(calm_days * 86400 / QUARTER)
    bursts = [(0, 1.3, 1.6), (9, 0.75, 0.8), (15, 0.45, 1.3), (26, 0.3, 1.0), (106, 1.2, 1.1),
              (113, 0.5, 0.8), (118, 0.55, 1.0)]          # (reading, height m, time to peak in readings)
    out = []
    for i in range(n_calm + 200):
        h = 1.22 - 0.003 * (i // 40 % 2)
        for at, a, tp in bursts:
            u = (i - n_calm - at) / tp
            if u > 0:
                h += a * (u * math.exp(1.0 - u)) ** 2
        out.append(round(h + rng.gauss(0, 0.001), 3))
    return out, n_calm


def rating(stage):
    """Discharge from stage by a power-law rating curve (m³/s)."""
    return [round(30.0 * max(h - 1.0, 0.0) ** 1.6, 2) for h in stage]


def test_the_pulses_of_a_flashy_urban_storm_are_no_sensor_fault():
    # before: "spike" on the short pulses after the first wave, "cluster" on discharge; a sensor flag
    # on a real flood holds back the public warning resting on that quantity
    stage, n_calm = flashy_storm()
    for quantity, values in (("water_level", stage), ("discharge", rating(stage))):
        out = faults(GAUGE, quantity, values)
        assert set(out) == {None}, (quantity, [(i - n_calm, o) for i, o in enumerate(out) if o])


def test_a_sensor_spike_on_a_calm_gauge_and_one_beyond_the_floods_moves_are_still_flagged():
    stage, n_calm = flashy_storm()
    calm = list(stage)
    calm[n_calm - 100] += 0.5                                   # a spike out of calm water
    assert faults(GAUGE, "water_level", calm)[n_calm - 99] == "spike"
    wild = list(stage)
    wild[n_calm + 60] += 4.0                                    # far beyond anything the storm did
    assert faults(GAUGE, "water_level", wild)[n_calm + 61] == "spike"


def test_a_crest_between_two_gaps_is_no_spike():
    # Blanco River at Wimberley, 24 May 2015: the rise, a 1.5 h gap, the record crest (4304 m³/s),
    # then 41 h without data (the gauge failed) and 110 m³/s: the return lies across a gap in which
    # the river could do anything, so it says nothing about the crest reading
    rng = random.Random(5)
    values = [15.0 + rng.gauss(0, 0.2) for _ in range(600)]
    values += [17.0, 20.0, 23.5, 29.7, 39.4, 133.7, 291.7, 654.1, 1169.5, 1970.9, 4304.2, 109.6]
    values += [109.6 + 3.0 * i + rng.gauss(0, 2.0) for i in range(40)]
    times = [1.8e9 + i * QUARTER for i in range(len(values))]
    times[610:] = [t + 5 * QUARTER for t in times[610:]]        # the gap before the crest
    times[611:] = [t + 41 * 3600.0 for t in times[611:]]        # and after it
    out = faults(GAUGE, "discharge", values, times=times)
    assert set(out) == {None}, [(i, o) for i, o in enumerate(out) if o]


def lengthening_recession(growth=1.8, first_h=1.0, steps=8, seed=11, start=4.417, quantum=0.113):
    """Discharge at 15-minute readings in a low-flow recession at one rating step per hold, each hold
    about ``growth`` times the one before (±20 %): the recession slows as the flow falls."""
    rng = random.Random(seed)
    out = []
    for k in range(steps):
        hold_h = first_h * growth ** k * rng.uniform(0.8, 1.2)
        out += [round(start - k * quantum, 3)] * max(1, round(hold_h * 3600 / QUARTER))
    return out


def test_a_recession_whose_holds_lengthen_is_not_stuck():
    # 08166200 (Guadalupe, June 2007): 3.738 m³/s held 26 h after holds of 2, 4, 4, 3.75, 10 and
    # 7.5 h — every hold may be longer than any before it, so the longest recent hold is no limit
    for seed in (11, 12, 13, 14):
        out = faults(GAUGE, "discharge", lengthening_recession(seed=seed))
        assert "stuck" not in out, (seed, out.index("stuck"))


def test_a_sensor_frozen_after_a_lengthening_recession_is_still_flagged():
    values = lengthening_recession(steps=6)
    frozen = values + [values[-1]] * int(4 * 86400 / QUARTER)
    out = faults(GAUGE, "discharge", frozen)
    assert "stuck" in out[len(values):]


def staircase_recession(seed=9):
    """Stage at 5-minute readings: a calm day at 0.86 m, a 1.3 m flood, and a recession recorded in
    stairs — a large and a small fall in turn (2.173, 2.124, 2.128, 2.112, 2.015, 1.978, 1.881 …)."""
    rng = random.Random(seed)
    calm = [0.86] * 300
    rise = [0.86 + 1.3 * (1 - math.cos(math.pi * i / 24)) / 2 for i in range(25)]
    fall = []
    h = rise[-1]
    for i in range(120):
        drop = 0.012 * math.exp(-i / 80) * 60 / 12
        h -= drop * (1.6 if i % 2 else 0.4)
        fall.append(round(h + rng.gauss(0, 0.002), 3))
    return calm + [round(v, 3) for v in rise] + fall + [fall[-1]] * 50


def test_a_recession_recorded_in_stairs_is_not_noise():
    # 08158810 (Oct 2015) and 08171300 (May 2015, inside a labelled flood): the falls alternate large
    # and small; the slope's second difference reverses at every reading, the level never does
    out = faults(GAUGE, "water_level", staircase_recession(), step_s=300.0)
    assert "noise" not in out, [(i, o) for i, o in enumerate(out) if o]


def test_a_checkpoint_from_before_the_reversal_count_restores_counting_noise_in_full():
    from detectors import get
    from tests.detectors.test_sensor_fault import without
    det = get("sensor_fault").build(GAUGE, "water_level")
    for i, v in enumerate(staircase_recession()[:400]):
        det.learn_one({"t": 1.8e9 + 300.0 * i, "water_level": v})
    restored = type(det).__new__(type(det))
    restored.__setstate__(without(det.__getstate__(), "rev"))
    assert restored.rev == 1.0 and det.rev < 0.1


def test_a_peak_and_the_first_reading_of_its_recession_are_not_a_two_reading_spike():
    # 08178000, 30 May 2016: 0.52 → 4.02 → 11.21 → 8.47 → 3.85 m³/s. Judged from the median of the
    # three readings before it (4.02), 8.47 looked like the second reading of a two-reading spike;
    # a two-reading spike holds its level (55 → 82 → 80 → 55), a recession does not
    from detectors.stats.spike import Spike
    s = Spike(k=8.0, ret=0.5, rel=0.15)
    for v in (0.52, 0.5, 0.52, 4.02, 11.21, 8.47):
        s.learn(v)
    assert s.excursion(3.85) == 0.0
    s2 = Spike(k=8.0, ret=0.5, rel=0.15)
    for v in (55.0, 55.2, 54.9, 82.0, 80.0):
        s2.learn(v)
    assert s2.excursion(55.1) > 20.0


def test_a_checkpoint_from_before_the_river_moves_and_hold_growth_restores():
    from detectors import get
    from tests.detectors.test_sensor_fault import without
    stage, n_calm = flashy_storm()
    det = get("sensor_fault").build(GAUGE, "water_level")
    for i, v in enumerate(stage[:n_calm]):
        det.learn_one({"t": 1.8e9 + QUARTER * i, "water_level": v})
    restored = type(det).__new__(type(det))
    restored.__setstate__(without(det.__getstate__(), "moves", "hold_growth", "growth_max"))
    assert restored.moves is not None and restored.hold_growth == 1.0 and restored.growth_max == 2.0
    out = []
    for i, v in enumerate(stage[n_calm:], start=n_calm):
        x = {"t": 1.8e9 + QUARTER * i, "water_level": v}
        s = restored.score_one(x)
        restored.learn_one(x)
        out.append(restored.level(s))
    assert not any(out)


# -- a slow flood is not a drifting sensor (issue #11, 2026-12-07) -----------------------------

def slow_flood(step_s, rise_m, rise_days, base=1.0, noise=0.002, seed=21):
    """Stage of a lowland river: three calm days at ``base``, then a steady rise of ``rise_m`` over
    ``rise_days`` (a few cm an hour), a day's crest and a slower fall."""
    rng = random.Random(seed)
    per_day = 86400.0 / step_s
    calm = [base + rng.gauss(0, noise) for _ in range(int(3 * per_day))]
    n_rise = int(rise_days * per_day)
    rise = [base + rise_m * i / n_rise + rng.gauss(0, noise) for i in range(n_rise)]
    crest = [base + rise_m + rng.gauss(0, noise) for _ in range(int(per_day))]
    fall = [base + rise_m * (1 - i / (2 * n_rise)) + rng.gauss(0, noise) for i in range(2 * n_rise)]
    return [round(v, 3) for v in calm + rise + crest + fall], len(calm)


@pytest.mark.parametrize("step_s, rise_m, rise_days", [
    (1800.0, 0.65, 1.0), (1800.0, 1.3, 2.0), (120.0, 1.0, 2.0), (900.0, 1.5, 4.0)])
def test_a_slow_flood_rise_is_no_drift(step_s, rise_m, rise_days):
    # Herbert site 4, 2 July 2021: the level rose 1.24 → 1.57 m at 1.4 cm an hour, steady enough for
    # the drift check, whose flag held back the flood's public warning for 10 hours. A sensor that
    # fouls or settles moves mm to cm a day; this is the river (before: "drift" in every case)
    stage, n_calm = slow_flood(step_s, rise_m, rise_days)
    out = faults(GAUGE, "water_level", stage, step_s)
    assert "drift" not in out, (step_s, out.index("drift") - n_calm)
    flow = rating([v + 0.5 for v in stage])
    assert "drift" not in faults(GAUGE, "discharge", flow, step_s)


def test_a_level_sensor_drifting_four_centimetres_a_day_is_still_flagged():
    # under 5 % of a 1 m stage a day (the check needs the ramp to beat the noise: at 1 mm of noise
    # or 2 cm a day it saw no drift before either)
    rng = random.Random(22)
    calm = [1.0 + rng.gauss(0, 0.0003) for _ in range(5 * 48)]
    ramp = [1.0 + 0.04 * i / 48 + rng.gauss(0, 0.0003) for i in range(6 * 48)]
    out = faults(GAUGE, "water_level", calm + ramp, HALF_HOUR)
    assert "drift" in out[len(calm):] and "drift" not in out[:len(calm)]
