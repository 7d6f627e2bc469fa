"""relative_rise on an estuary gauge: flood tides are not floods, river floods are; a second flood
on a recession is still raised.

The failure mode (Herbert site 4, a tidal reach: 124 public flood warnings in 260 days): a gauge set
above low water reads a flat floor at low tide and a fast flood tide to high water, and the spring
tides rise far above the typical excess learnt over the neaps. Synthetic here: an asymmetric tide
(fast flood, slow ebb), M2 + S2 + K1, the gauge dry below 0.1 m, 30-minute readings, 60 days. The
daily routine halves the warnings or better from the fourth day; once the gauge is known tidal (15
days), none are raised.
"""

from __future__ import annotations

import math
import random

import pytest

from detectors import get
from detectors.base import example_station
from riverwatch.catalog import Station
from riverwatch.model import Level
from tests.helpers import detector_levels

STATION = example_station(["water_level"])
T0 = 1.8e9 // 86400 * 86400
HOUR = 3600.0


def estuary(t: float, amplitude: float, s2: float, offset: float) -> float:
    """Stage (m) of an asymmetric mixed tide at a gauge that reads 0.1 m when dry."""
    h = (t - T0) / HOUR
    phase = 2 * math.pi * h / 12.42
    phase += 0.5 * math.sin(phase)                       # the flood tide is faster than the ebb
    x = amplitude * (math.sin(phase) + s2 * math.sin(2 * math.pi * h / 12.0 + 1.0)
                     + 0.3 * math.sin(2 * math.pi * h / 23.93))
    return max(0.1, offset + x)


def raises(values_at, days: float, step_s: float, station: Station = STATION, **params) -> list[float]:
    """Hours into the record at which relative_rise raised a warning (NONE → a level)."""
    rng = random.Random(0)
    ts = [T0 + i * step_s for i in range(int(days * 86400 / step_s))]
    det = get("relative_rise").build(station, "water_level", params)
    levels = detector_levels(det, [(t, values_at(t) + rng.gauss(0, 0.003)) for t in ts])
    return [(ts[i] - T0) / HOUR for i in range(1, len(ts)) if levels[i] > Level.NONE >= levels[i - 1]]


CASES = [(0.4, 0.5, -0.2), (0.3, 0.6, 0.0), (0.4, 0.5, 0.0)]


def after_warmup(hours: list[float]) -> list[float]:
    return [h for h in hours if h > 4 * 24]


@pytest.mark.parametrize("amplitude, s2, offset", CASES)
def test_the_daily_routine_takes_away_most_tidal_warnings(amplitude, s2, offset):
    tide = lambda t: estuary(t, amplitude, s2, offset)  # noqa: E731
    before = after_warmup(raises(tide, 60, 1800.0, routine_days=0))
    now = after_warmup(raises(tide, 60, 1800.0))
    assert len(before) >= 40                               # the failure mode: most spring tides
    assert len(now) <= len(before) // 2


@pytest.mark.parametrize("amplitude, s2, offset", CASES)
def test_once_the_gauge_is_known_tidal_spring_tides_raise_nothing(amplitude, s2, offset):
    """From neaps to springs the range a gauge dry at low water sees can double in a day; once 15
    days show the lunar periods, the bar is the cycle's third-largest day's rise."""
    tide = lambda t: estuary(t, amplitude, s2, offset)  # noqa: E731
    assert [h for h in raises(tide, 60, 1800.0) if h > 15 * 24] == []


def test_river_floods_at_a_tidal_gauge_are_raised_and_one_does_not_hide_the_next():
    """Herbert site 4 in the wet season: river floods of 1.5 m over the 0.7 m tide, ten days apart."""
    def river(t: float) -> float:
        h = (t - T0) / HOUR
        return sum(1.5 * min(1.0, max(0.0, (h - c) / 12)) * math.exp(-max(0.0, h - c - 12) / 48)
                   for c in (30 * 24, 40 * 24))

    hours = raises(lambda t: estuary(t, 0.4, 0.5, -0.2) + river(t), 50, 1800.0)
    for start in (30 * 24, 40 * 24):
        assert any(start < h < start + 12 for h in hours)             # on the rise


def test_a_second_flood_on_the_recession_of_the_first_is_raised_as_before():
    """Herbert site 2, January 2022: the river rose again two days into a recession. Measured from
    the low before the first flood, the recession's excess is large every day, but it is no rise:
    the routine is what the river *rises* by within a day."""
    def river(t: float) -> float:
        h = (t - T0) / HOUR
        first = 1.0 * min(1.0, max(0.0, (h - 120) / 6)) * math.exp(-max(0.0, h - 126) / 36)
        second = 0.45 * min(1.0, max(0.0, (h - 180) / 4)) * math.exp(-max(0.0, h - 184) / 36)
        return 0.5 + 0.02 * math.sin(2 * math.pi * h / 24) + first + second

    now = raises(river, 10, 900.0)
    assert now == raises(river, 10, 900.0, routine_days=0)
    assert len(now) == 2 and 180 < now[1] < 184                     # the second flood, on its rise


def test_a_gauge_the_catalog_calls_tidal_needs_no_fifteen_days():
    """The catalog's ``tidal = true`` replaces the recognition: in the first springs (days 9–12 here)
    one warning instead of six, as the routine still learns the springs; ``tidal = false`` keeps a
    gauge a river whatever it looks like."""
    tide = lambda t: estuary(t, 0.4, 0.5, -0.2)  # noqa: E731
    unset = after_warmup(raises(tide, 30, 1800.0))
    said = after_warmup(raises(tide, 30, 1800.0, station=Station.model_validate({**STATION.model_dump(),
                                                                                "tidal": True})))
    river = after_warmup(raises(tide, 30, 1800.0, station=Station.model_validate({**STATION.model_dump(),
                                                                                 "tidal": False})))
    assert len(unset) >= 5 and len(said) <= 1
    assert len([h for h in river if h > 15 * 24]) > 0 == len([h for h in unset if h > 15 * 24])
