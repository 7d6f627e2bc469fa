"""sensor_fault on a water level read from another datum (issue #11): many agencies publish the level
above sea level or a national height datum, not above the gauge's zero. The relative checks size a
level from its datum (:func:`detectors.stats.fault_scores.datum_of`), so the same river reads the
same on any datum. Before, the size was the value itself: at 37 m every flood looked noisy and a
0.3 m spike was under the 15 % least size, and above 100 m every reading was impossible.
"""

from __future__ import annotations

import math
import random

import pytest

from detectors.base import get
from detectors.stats.fault_scores import BASE_STAGE_MAX
from tests.detectors.test_sensor_fault import GAUGE, faults

DATUMS = (0.0, 37.0, 250.0, -5.0)   # the gauge's zero, two heights above sea level, below the zero


def flood_wave(seed, base=0.6, crest=4.2, noise=0.006):
    """Stage at 15-minute readings: five calm days at ``base`` m, then a flood wave to ``crest`` m
    over about ten hours whose turbulence grows with the depth (``noise`` × the stage)."""
    rng = random.Random(seed)
    n_calm = 5 * 96
    out = []
    for i in range(n_calm + 4 * 96):
        u = max(0.0, (i - n_calm) / 40.0)
        h = base + (crest - base) * (u * math.exp(1.0 - u)) ** 1.5
        out.append(round(h + rng.gauss(0, noise * h), 3))
    return out


def shifted(values, datum):
    return [round(v + datum, 3) for v in values]


@pytest.mark.parametrize("datum", DATUMS)
def test_a_flood_reads_the_same_on_any_datum(datum):
    # before: 84 "noise" readings over these four floods at 37 m, 98 at -5 m, every one impossible
    # at 250 m; a sensor flag holds back the public flood warning of its quantity
    for seed in range(4):
        out = faults(GAUGE, "water_level", shifted(flood_wave(seed), datum))
        assert set(out) == {None}, (seed, [(i, o) for i, o in enumerate(out) if o][:5])


@pytest.mark.parametrize("datum", DATUMS)
def test_a_spike_is_flagged_on_any_datum(datum):
    rng = random.Random(1)
    calm = [0.8 + rng.gauss(0, 0.002) for _ in range(400)]
    calm[300] += 0.3                                      # before: missed at 37 m and at -5 m
    out = faults(GAUGE, "water_level", shifted(calm, datum))
    assert out[301] == "spike" and out.count("spike") == 1


def test_the_datum_follows_the_lowest_level_held_not_a_dip():
    det = get("sensor_fault").build(GAUGE, "water_level", None)
    levels = [245.6] * 50 + [245.4] * 20 + [240.0, 240.0] + [245.4] * 20   # a two-reading dip
    for i, v in enumerate(levels):
        det.learn_one({"t": 1.8e9 + 900.0 * i, "water_level": v})
    assert det.datum == pytest.approx(245.4 - BASE_STAGE_MAX)
    gauge_zero = get("sensor_fault").build(GAUGE, "water_level", None)
    for i, v in enumerate([0.62, 0.55, 0.58, 0.61]):
        gauge_zero.learn_one({"t": 1.8e9 + 900.0 * i, "water_level": v})
    assert gauge_zero.datum == 0.0                        # a stage above the gauge's zero: as before


def test_a_checkpoint_from_before_the_datum_restores_and_learns_it():
    det = get("sensor_fault").build(GAUGE, "water_level", None)
    for i in range(50):
        det.learn_one({"t": 1.8e9 + 900.0 * i, "water_level": 245.6})
    old = {k: v for k, v in det.__getstate__().items() if k not in ("floor", "datum")}
    restored = type(det).__new__(type(det))
    restored.__setstate__(old)
    assert restored.datum == 0.0                          # sized from zero, as it was saved
    for i in range(50, 53):
        restored.learn_one({"t": 1.8e9 + 900.0 * i, "water_level": 245.6})
    assert restored.datum == pytest.approx(245.6 - BASE_STAGE_MAX)
