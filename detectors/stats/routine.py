"""What recurs at a time of day: per hour slot, the peak surprise of each of the last two days.

A stream with a daily job (a backup, a cron task, a shift change) has an excursion at about the
same time every day. Judged against its level and spread alone, each one is as surprising as the first;
judged against what happened at that time on the previous days, it is routine. :class:`DailyRoutine`
keeps, per hour slot, the peak likelihood z of today, of yesterday, and the lower of the two last
complete days (``usual``); :meth:`DailyRoutine.usual_at` is that lower peak for the slot of ``t``: an
excursion had at least that strength near this time on *each* of the last two days. One occurrence the
day before is not a routine (two real anomalies on consecutive days at the same time both count).

A reading is learnt into the two slots whose centres bracket its time, so a job whose time wanders
within the hour is still recognised. Peaks are kept as tenths of z in small ints (the state stays under
the 2 KB contract). Only a stream read at least hourly on average knows its time of day that well;
for a sparser one ``usual_at`` is 0 (nothing is routine). Timestamps are seconds; only their
consistency matters.

Examples
--------
>>> r = DailyRoutine()
>>> day, hour = 86400.0, 3600.0
>>> for d in range(3):                                   # readings every 10 min, a z of 8 at 03:30 daily
...     for k in range(144):
...         t = 1.6e9 // day * day + d * day + 600 * k
...         r.learn(t, 8.0 if k == 21 else 1.0)
>>> t3 = 1.6e9 // day * day + 3 * day
>>> r.usual_at(t3 + 3.5 * hour), r.usual_at(t3 + 15.5 * hour)   # day 4: 03:30 is routine, 15:30 not
(8.0, 1.0)
"""

from __future__ import annotations

import math

from riverwatch.state import Slotted

_DAY = 86400.0
_HOUR = 3600.0
_SCALE = 10.0          # peaks kept in tenths of z
_TOP = 65535           # and capped (the first readings' z can be astronomical)
_SPACING = 0.01        # EWMA weight of the reading spacing


class DailyRoutine(Slotted):
    """Per hour slot, the peak z of today and yesterday, and the lower of the last two complete days."""

    __slots__ = ("day", "today", "yesterday", "usual", "last_t", "spacing")

    def __init__(self) -> None:
        self.day = -1
        self.today = [0] * 24
        self.yesterday = [0] * 24
        self.usual = [0] * 24
        self.last_t = math.nan
        self.spacing = math.inf

    def usual_at(self, t: float) -> float:
        """The z reached near the time of day of ``t`` on each of the last two days (0: nothing recurs)."""
        if self.spacing > _HOUR:
            return 0.0
        day, slot = int(t // _DAY), int((t % _DAY) // _HOUR)
        if day == self.day:
            q = self.usual[slot]
        elif day == self.day + 1:           # the first reading of a new day: today and yesterday are complete
            q = min(self.today[slot], self.yesterday[slot])
        else:
            q = 0
        return q / _SCALE

    def learn(self, t: float, z: float) -> None:
        """Learn the likelihood ``z`` of a reading at ``t`` (after it was scored)."""
        day = int(t // _DAY)
        if day != self.day:
            self._new_day(day)
        q = min(int(z * _SCALE + 0.5), _TOP) if z > 0.0 else 0
        p = (t % _DAY) / _HOUR - 0.5
        i0 = math.floor(p) % 24
        today = self.today
        for i in (i0, (i0 + 1) % 24):
            if q > today[i]:
                today[i] = q
        if self.last_t == self.last_t:
            gap = min(max(t - self.last_t, 0.0), _DAY)
            self.spacing = gap if self.spacing == math.inf else self.spacing + _SPACING * (gap - self.spacing)
        self.last_t = t

    def _new_day(self, day: int) -> None:
        if day == self.day + 1:
            self.usual = [min(a, b) for a, b in zip(self.today, self.yesterday)]
            self.yesterday = self.today
        else:                               # a day or more without readings: no routine to speak of
            self.usual = [0] * 24
            self.yesterday = [0] * 24
        self.today = [0] * 24
        self.day = day
