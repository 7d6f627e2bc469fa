"""What a river does on most days: a peak rate of rise reached on most days of the last week.

A tidal reach rises twice a day with the flood tide; a snow-fed river rises every afternoon with the
melt; a river below a hydropower dam rises with each weekday's release and not at weekends. Judged
against fixed rates alone, each of those rises is a flood wave. :class:`DailyPeaks` keeps the peak of
a value (a rate of rise) on each complete calendar day; :meth:`DailyPeaks.routine` is the ``of``-th
highest of the last ``days`` (by default the 4th of 7): a rise at least that fast happened on most
days of the last week, so a weekend without releases does not make Monday's release a flood. It is
0 until ``of`` consecutive days have been seen, after a day without readings, and on a river that
rises fast on some days only (one storm, or three in a week, is not a routine). Unlike :class:`~detectors.stats.routine.DailyRoutine` it ignores the time of day: the tide
comes 50 minutes later each day.

On a tidal gauge (:class:`~detectors.stats.tide_check.TideCheck`) three days say too little: from
neaps to springs the range a gauge dry at low water sees can double in a day, and springs alternate
in strength over the month. There the bar is the third-highest peak of the last ``CYCLE_DAYS`` (a
lunar month; springs last several days, a flood's fast rises one or two),
:meth:`DailyPeaks.cycle_peak`, times a small factor for the stronger springs (:class:`EveryDay` bundles the two with the detector's factors).

Examples
--------
>>> p = DailyPeaks(7, 4)
>>> day = 86400.0
>>> for d in range(5):                  # a rise of 0.4 m/h every day, 0.1 m/h otherwise
...     for k in range(96):
...         p.learn(d * day + 900.0 * k, 0.4 if k in (20, 70) else 0.1)
>>> round(p.routine(), 3)                 # peaks are kept as 4-byte floats
0.4
>>> q = DailyPeaks(7, 4)
>>> for d in range(5):                  # one storm on day 2 only: no routine
...     for k in range(96):
...         q.learn(d * day + 900.0 * k, 0.9 if (d, k) == (2, 40) else 0.0)
>>> q.routine()
0.0

As rises within each day: a tide's range recurs, a river receding from a flood rises by nothing.

>>> r = DailyPeaks(7, 4)
>>> for d in range(4):
...     for k in range(96):
...         r.learn_rise(d * day + 900.0 * k, 2.0 - 0.005 * (96 * d + k))
>>> r.routine()
0.0
"""

from __future__ import annotations

import math
from array import array

from pydantic import BaseModel, ConfigDict, Field

from detectors.stats.tide_check import TideCheck
from riverwatch.state import Slotted

_DAY = 86400.0
#: Days of peaks kept for a tidal gauge: a lunar month (two spring–neap cycles of 14.8 days, which
#: alternate in strength).
CYCLE_DAYS = 30
#: The peak of the month is its third-highest day, so one flood does not set the bar for a month.
CYCLE_RANK = 3
#: On a tidal gauge the routine is a rise on each of the last this many days: the tide's range
#: changes from day to day (neaps to springs), so a week's middle day would hide a surge.
TIDE_ROUTINE_DAYS = 3


class DailyPeaks(Slotted):
    """Peak of a value on each complete day; ``routine`` is the ``of``-th highest of the last ``days``
    (``of`` = ``days``: their minimum, a rise on every one of them)."""

    __slots__ = ("days", "day", "today", "peaks", "low", "run", "of")
    slot_defaults = {"low": math.inf, "run": None}

    def __init__(self, days: int, of: int | None = None) -> None:
        self.days = days
        self.of = days if of is None else min(of, days)
        self.day = -1
        self.today = 0.0
        self.peaks = array("f")               # complete consecutive days, oldest first (4-byte floats)
        self.low = math.inf                   # today's lowest value (for learn_rise)
        self.run = 0                          # how many of the last peaks are consecutive days

    def routine(self, days: int | None = None, of: int | None = None) -> float:
        """The rate reached on ``of`` of the last ``days`` complete consecutive days (0.0: nothing
        recurs); by default this object's ``of`` and ``days``."""
        days = self.days if days is None else days
        of = self.of if of is None else of
        run = self._run()
        if of <= 0 or run < of:
            return 0.0
        return sorted(self.peaks[-min(run, days):])[-of]

    def cycle_peak(self) -> float:
        """The ``CYCLE_RANK``-th highest peak of the last ``CYCLE_DAYS`` complete days (0.0 until
        :data:`TIDE_ROUTINE_DAYS` consecutive days are seen, as the tidal routine): springs last
        days, a flood's fast rises one or two."""
        need = min(self.of, TIDE_ROUTINE_DAYS)
        if need <= 0 or self._run() < need or len(self.peaks) < CYCLE_RANK:
            return 0.0
        return sorted(self.peaks)[-CYCLE_RANK]

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        if "of" not in missing:
            return
        if self.days == 3:                       # a state from before ``of``, at the old default: the week's
            self.days, self.of = 7, 4            # (the peaks are kept for 30 days, so the week is there)
        else:                                    # ... or set otherwise: a rise on every one of its days
            self.of = self.days

    def learn(self, t: float, value: float) -> None:
        """Learn ``value`` observed at ``t`` (seconds)."""
        day = int(t // _DAY)
        if day != self.day:
            self._new_day(day)
        if value > self.today:
            self.today = value

    def _run(self) -> int:
        return len(self.peaks) if self.run is None else self.run    # None: a state from before ``run``

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
            self.peaks.append(self.today)
            del self.peaks[:-max(self.days, CYCLE_DAYS)]
            self.run = self._run() + 1
        elif day > self.day:                # a day or more without readings: the days start again
            self.run = 0                    # (the cycle's peaks are kept: tides do not change)
        else:                               # the clock went back: keep the days, start today anew
            return
        self.day = day
        self.today = 0.0


class RoutineParams(BaseModel):
    """The every-day routine's parameters, shared by the flood detectors (``rate_of_rise``,
    ``relative_rise``; see :class:`EveryDay`).

    routine_days, routine_of, routine_factor
        A rise as fast or as high as on ``routine_of`` of the last ``routine_days`` days is routine
        (tides, daily melt, weekday releases from a dam): only one above ``routine_factor`` × that
        counts (the factor allows for a routine that grows from day to day, as tides do towards
        springs); 0 = off. ``routine_of`` = ``routine_days`` asks for a rise on every one of them.
    tide_share, tide_factor
        A gauge whose hourly changes follow the lunar tidal periods by at least ``tide_share``
        (:class:`~detectors.stats.tide_check.TideCheck`), or that the catalog calls ``tidal``, is
        tidal: a rise must also beat ``tide_factor`` × the third-largest day of the last 30.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    routine_days: int = Field(7, ge=0, le=14)
    routine_of: int = Field(4, ge=0, le=14)
    routine_factor: float = Field(2.0, ge=1.0)
    tide_share: float = Field(0.1, gt=0)
    tide_factor: float = Field(1.25, ge=1.0)


class EveryDay(Slotted):
    """What a river does every day, and whether it is tidal: the bar a rise must beat.

    >>> e = EveryDay(RoutineParams())
    >>> for k in range(5):
    ...     e.learn(86400.0 * k, [0.1, 0.2, 0.4, 0.8, 0.0][k], 1.0)
    >>> round(e.bar(), 3)                      # not tidal: 2 × the 4th highest of (0.1, 0.2, 0.4, 0.8)
    0.2
    """

    __slots__ = ("peaks", "tide", "factor", "tide_share", "tide_factor", "tidal")

    def __init__(self, params: RoutineParams, tidal: bool | None = None) -> None:
        self.peaks = DailyPeaks(params.routine_days, params.routine_of)
        self.tide = TideCheck()
        self.factor, self.tide_share, self.tide_factor = params.routine_factor, params.tide_share, params.tide_factor
        self.tidal = tidal                      # the catalog's word, if it says

    def bar(self) -> float:
        """``factor`` × the routine; on a tidal gauge (the catalog's ``tidal``, or unset and found by
        the tide check) the routine of the last :data:`TIDE_ROUTINE_DAYS` days, and at least
        ``tide_factor`` × the cycle's peak."""
        peaks = self.peaks
        if not (self.tide.tidal(self.tide_share) if self.tidal is None else self.tidal):
            return peaks.routine() * self.factor
        days = min(peaks.days, TIDE_ROUTINE_DAYS) if peaks.days else 0
        return max(peaks.routine(days, days) * self.factor, peaks.cycle_peak() * self.tide_factor)

    def learn(self, t: float, peak: float, level: float) -> None:
        """Learn a reading at ``t``: ``peak`` for the day's peak (a rate), ``level`` for the tide check."""
        self.peaks.learn(t, peak)
        self.tide.learn(t, level)

    def learn_rise(self, t: float, level: float) -> None:
        """Learn ``level`` at ``t``, the day's peak being its rise within the day."""
        self.peaks.learn_rise(t, level)
        self.tide.learn(t, level)
