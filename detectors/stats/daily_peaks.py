"""What a river does every day: the lowest of the last few days' peak rates of rise.

A tidal reach rises twice a day with the flood tide; a snow-fed river rises every afternoon with the
melt. Judged against fixed rates alone, each of those rises is a flood wave. :class:`DailyPeaks`
keeps the peak of a value (a rate of rise) on each of the last ``days`` complete calendar days;
:meth:`DailyPeaks.routine` is the lowest of them: a rise at least that fast happened on *every* one
of those days. It is 0 until ``days`` consecutive days have been seen, after a day without readings,
and on a river that rises fast on some days only (one storm, or two on consecutive days, is not a
routine). Unlike :class:`~detectors.stats.routine.DailyRoutine` it ignores the time of day: the tide
comes 50 minutes later each day.

Examples
--------
>>> p = DailyPeaks(3)
>>> day = 86400.0
>>> for d in range(4):                  # a rise of 0.4 m/h every day, 0.1 m/h otherwise
...     for k in range(96):
...         p.learn(d * day + 900.0 * k, 0.4 if k in (20, 70) else 0.1)
>>> p.routine()
0.4
>>> q = DailyPeaks(3)
>>> for d in range(4):                  # one storm on day 2 only: no routine
...     for k in range(96):
...         q.learn(d * day + 900.0 * k, 0.9 if (d, k) == (2, 40) else 0.0)
>>> q.routine()
0.0

As rises within each day: a tide's range recurs, a river receding from a flood rises by nothing.

>>> r = DailyPeaks(3)
>>> for d in range(4):
...     for k in range(96):
...         r.learn_rise(d * day + 900.0 * k, 2.0 - 0.005 * (96 * d + k))
>>> r.routine()
0.0
"""

from __future__ import annotations

import math

from riverwatch.state import Slotted

_DAY = 86400.0


class DailyPeaks(Slotted):
    """Peak of a value on each of the last ``days`` complete days; ``routine`` is their minimum."""

    __slots__ = ("days", "day", "today", "peaks", "low")
    slot_defaults = {"low": math.inf}

    def __init__(self, days: int) -> None:
        self.days = days
        self.day = -1
        self.today = 0.0
        self.peaks: list[float] = []          # complete consecutive days, oldest first
        self.low = math.inf                   # today's lowest value (for learn_rise)

    def routine(self) -> float:
        """The rate reached on each of the last ``days`` complete days (0.0: nothing recurs)."""
        if self.days <= 0 or len(self.peaks) < self.days:
            return 0.0
        return min(self.peaks)

    def learn(self, t: float, value: float) -> None:
        """Learn ``value`` observed at ``t`` (seconds)."""
        day = int(t // _DAY)
        if day != self.day:
            self._new_day(day)
        if value > self.today:
            self.today = value

    def learn_rise(self, t: float, value: float) -> None:
        """Learn ``value`` at ``t`` as a rise: the day's peak is its highest value above its lowest one
        before it (a tide's range; about 0 on a receding river)."""
        if int(t // _DAY) != self.day:
            self.learn(t, 0.0)                # roll the day over
            self.low = value
        self.low = min(self.low, value)
        self.learn(t, value - self.low)

    def _new_day(self, day: int) -> None:
        if day == self.day + 1:
            self.peaks = (self.peaks + [self.today])[-self.days:] if self.days > 0 else []
        elif day > self.day:                # a day or more without readings: start again
            self.peaks = []
        else:                               # the clock went back: keep the days, start today anew
            return
        self.day = day
        self.today = 0.0
