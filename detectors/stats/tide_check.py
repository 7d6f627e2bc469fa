"""Is this gauge tidal? The share of its hourly level changes that follow the moon's tidal periods.

A tidal reach rises and falls with the lunar constituents M2 (12.42 h) and O1 (25.82 h) and the
shallow-water overtide M4 (6.21 h). :class:`TideCheck` samples the level's change over each hour and
keeps, with a 30-day memory, its projections on those three periods; :meth:`TideCheck.share` is the
part of the changes' mean square they explain (about 0.85 for a clean mixed tide, 0.2–0.5 for a gauge
dry at low water or a diurnal tide; at most 0.06 on the rivers, sondes and synthetic rain, snow-melt
and noise series measured, docs/detectors.md). Solar-day patterns (snow melt, a daily pump) are not
tidal: no lunar period is within a month's resolution of 24 or 12 hours. N2 (12.66 h) is left out:
over a month it is not told apart from M2. Nothing is tidal before 15 days of hourly changes (a
spring–neap cycle) have been seen.

Examples
--------
>>> import math
>>> tide, river = TideCheck(), TideCheck()
>>> for i in range(20 * 96):                       # 20 days of 15-minute readings
...     t = 900.0 * i
...     tide.learn(t, math.sin(2 * math.pi * t / (12.42 * 3600)))
...     river.learn(t, 1.0 + 0.5 * math.exp(-abs(t - 8.6e5) / 2e5))
>>> round(tide.share(), 1), round(river.share(), 2), tide.tidal(0.12), river.tidal(0.12)
(1.0, 0.01, True, False)
"""

from __future__ import annotations

import math

from riverwatch.state import Slotted

_HOUR = 3600.0
#: Lunar tidal periods (hours): M2, O1, M4.
PERIODS_H = (12.4206, 25.8193, 6.2103)
_MEMORY_S = 30 * 86400.0
_MIN_SAMPLES = 15 * 24


class TideCheck(Slotted):
    """Projections of hourly level changes on the lunar tidal periods (see the module docstring)."""

    __slots__ = ("t", "v", "cos", "sin", "weight", "square", "samples")

    def __init__(self) -> None:
        self.t = math.nan                  # time and level of the last hourly sample
        self.v = math.nan
        self.cos = [0.0] * len(PERIODS_H)
        self.sin = [0.0] * len(PERIODS_H)
        self.weight = 0.0                  # sum of the samples' weights
        self.square = 0.0                  # weighted sum of squared changes
        self.samples = 0

    def learn(self, t: float, v: float) -> None:
        """Learn the level ``v`` at ``t`` (seconds); a sample is taken once an hour has passed."""
        if not self.t == self.t:
            self.t, self.v = t, v
            return
        dt = t - self.t
        if dt < _HOUR:
            return
        if dt <= 3 * _HOUR:                # a longer silence: start the next change afresh
            self._add((self.t + t) / 2.0, (v - self.v) * _HOUR / dt, math.exp(-dt / _MEMORY_S))
        self.t, self.v = t, v

    def _add(self, t_mid: float, change: float, keep: float) -> None:
        for k, period in enumerate(PERIODS_H):
            w = 2.0 * math.pi * t_mid / (period * _HOUR)
            self.cos[k] = keep * self.cos[k] + change * math.cos(w)
            self.sin[k] = keep * self.sin[k] + change * math.sin(w)
        self.weight = keep * self.weight + 1.0
        self.square = keep * self.square + change * change
        self.samples += 1

    def share(self) -> float:
        """Share of the hourly changes' mean square at the lunar periods (0.0 before 15 days)."""
        if self.samples < _MIN_SAMPLES or self.square <= 0.0:
            return 0.0
        power = sum(c * c + s * s for c, s in zip(self.cos, self.sin))
        return 2.0 * power / (self.weight * self.square)

    def tidal(self, threshold: float) -> bool:
        """Whether the share is at least ``threshold``."""
        return self.share() >= threshold
