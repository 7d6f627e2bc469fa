"""relative_rise across a gauge outage: a rise is sustained only where it was seen.

Gauges go silent in storms. Before, the rise test and the de-spiking median reached across the
silence: a gauge back on a flood's recession, higher than before the outage, looked like a
sustained rise and was warned for a day while the river fell. Now each time scale starts anew from
the last value before the gap. A warning released far down the recession (where the gauge came
back) remembers the release line, not that low value, so a wiggle of a few centimetres does not
raise it again.
"""

from __future__ import annotations

import math
import random

import pytest

from detectors import get
from detectors.base import example_station
from riverwatch.model import Level
from tests.helpers import detector_levels

QUARTER = 900.0
NO_THRESHOLDS = example_station(["water_level"])
T0 = 1.8e9


def flood(seed: int, days: float = 8.0, onset_h: float = 5 * 24.0) -> list[tuple[float, float]]:
    """15-minute readings of a river at 1.0 m (4 cm diurnal swing, 1 cm noise) that rises 3 m in
    6 h from ``onset_h`` and recedes over two days (exponentially, 12 h time constant)."""
    rng = random.Random(seed)
    out = []
    for i in range(int(days * 86400 / QUARTER)):
        h = i * QUARTER / 3600
        v = 1.0 + 0.04 * math.sin(2 * math.pi * h / 24) + rng.gauss(0, 0.01)
        if onset_h <= h < onset_h + 6:
            v += 3.0 * (h - onset_h) / 6
        elif h >= onset_h + 6:
            v += 3.0 * math.exp(-(h - onset_h - 6) / 12)
        out.append((T0 + i * QUARTER, v))
    return out


def silent(points, start_h: float, end_h: float):
    """``points`` without the readings from ``start_h`` to ``end_h`` hours after the start."""
    return [(t, v) for t, v in points if not start_h * 3600 <= t - T0 < end_h * 3600]


def levels_after(points, hour: float) -> list[Level]:
    det = get("relative_rise").build(NO_THRESHOLDS, "water_level")
    return [lvl for (t, _), lvl in zip(points, detector_levels(det, points)) if t - T0 >= hour * 3600]


@pytest.mark.parametrize("seed", range(1, 6))
def test_a_gauge_back_on_the_recession_raises_nothing(seed):
    # silent from an hour before the rise to 12 h after the crest: back at +1.1 m and falling
    points = silent(flood(seed), 119.0, 138.0)
    assert set(levels_after(points, 138.0)) == {Level.NONE}


@pytest.mark.parametrize("seed", range(1, 6))
def test_a_gauge_back_while_the_river_still_rises_is_warned_as_it_rises(seed):
    # silent for 3 h from the rise's first hour; back with 3 h of the rise left
    points = silent(flood(seed), 121.0, 123.0)
    lv = levels_after(points, 123.0)
    assert max(lv[:4]) > Level.NONE, "warned within the first hour back"


@pytest.mark.parametrize("seed", range(1, 6))
def test_a_wiggle_on_the_recession_after_an_outage_raises_nothing(seed):
    # warned on the rise, silent from the crest for a day, back far down the recession;
    # then a 15 cm bump over 90 minutes (a shower) on the way down
    points = silent(flood(seed), 126.0, 150.0)
    bumped = [(t, v + 0.15 * min(max((t - T0) / 3600 - 152.0, 0.0), 1.5) / 1.5 * ((t - T0) / 3600 < 156.0))
              for t, v in points]
    assert levels_after(bumped, 121.0)[:24].count(Level.NONE) < 24, "the rise itself was warned"
    back = levels_after(bumped, 150.0)
    released = back.index(Level.NONE)
    assert released <= 4 and set(back[released:]) == {Level.NONE}
