"""TideCheck: tidal gauges are recognised after a spring–neap cycle; rivers, rain and solar-day
patterns never are."""

from __future__ import annotations

import math
import random

import pytest

from detectors.stats.tide_check import TideCheck

T0 = 1.8e9 // 86400 * 86400
HOUR = 3600.0
RNG = random.Random(5)
MELT = [0.1 + 0.3 * RNG.random() for _ in range(60)]
STORMS = [(RNG.uniform(0, 50 * 24), RNG.uniform(0.3, 2.0)) for _ in range(10)]


def semidiurnal(h: float) -> float:
    return (math.sin(2 * math.pi * h / 12.42) + 0.4 * math.sin(2 * math.pi * h / 12.0 + 1.0)
            + 0.15 * math.sin(2 * math.pi * h / 23.93) + 0.1 * math.sin(2 * math.pi * h / 25.82 + 2.0))


def dry_at_low_water(h: float) -> float:
    phase = 2 * math.pi * h / 12.42
    phase += 0.5 * math.sin(phase)
    return max(0.1, -0.2 + 0.4 * (math.sin(phase) + 0.5 * math.sin(2 * math.pi * h / 12.0 + 1.0)
                                  + 0.3 * math.sin(2 * math.pi * h / 23.93)))


def diurnal(h: float) -> float:
    return 0.6 * math.sin(2 * math.pi * h / 23.93) + 0.45 * math.sin(2 * math.pi * h / 25.82 + 1.0)


def snow_melt(h: float) -> float:
    """A melt pulse every afternoon, of a size that changes with the weather."""
    return MELT[int(h // 24)] * max(0.0, math.sin(2 * math.pi * (h % 24 - 10) / 24))


def rain(h: float) -> float:
    return sum(a * math.exp(-max(0.0, h - c) / 20) * min(1.0, max(0.0, (h - c + 3) / 3)) for c, a in STORMS)


def shares(level, days: int = 50, step_s: float = 900.0) -> list[float]:
    """The share after each day from the 16th on."""
    check, rng, out = TideCheck(), random.Random(0), []
    for i in range(int(days * 86400 / step_s)):
        t = T0 + i * step_s
        check.learn(t, level((t - T0) / HOUR) + rng.gauss(0, 0.005))
        if i % int(86400 / step_s) == 0 and i * step_s > 15 * 86400:
            out.append(check.share())
    return out


@pytest.mark.parametrize("level", [semidiurnal, dry_at_low_water, diurnal])
def test_a_tide_is_recognised(level):
    assert min(shares(level)) >= 0.15


@pytest.mark.parametrize("level", [snow_melt, rain, lambda h: 1.0])
def test_rivers_rain_and_a_daily_melt_are_not_tidal(level):
    assert max(shares(level)) <= 0.06


def test_nothing_is_tidal_before_a_spring_neap_cycle():
    check = TideCheck()
    for i in range(14 * 96):
        t = T0 + 900.0 * i
        check.learn(t, semidiurnal((t - T0) / HOUR))
    assert check.share() == 0.0 and not check.tidal(0.1)
