"""A seasonal baseline learnt online: the expected departure from the level for the time of day and week.

An additive profile of 24 hour-of-day slots (read by linear interpolation between slot centres, so
a 5-minute series sees a smooth curve) plus 7 day-of-week offsets, learnt from the one-step residual
``value − level``. Beside it, two exponentially weighted variances: of the residual against the plain
level and against level + profile. :meth:`SeasonalProfile.explains` says whether the profile has
earned its place (seen two days at least, and its residual variance a clear fraction of the plain one),
so a series without a season keeps being judged against its plain level. Per hour slot, the variance
of the departure from the profile too: :meth:`SeasonalProfile.spread` says how much wider than on
average it is at a time of day (a daily step sharper than the hourly slots leaves a wide spread at its
hour, so it is not a surprise there). Timestamps are seconds (UTC or local; only their consistency
matters).

Examples
--------
>>> import math
>>> p = SeasonalProfile(weight=0.02, ratio=0.5)
>>> for i in range(24 * 12 * 4):                      # four days of 5-minute readings
...     t = 1.6e9 + 300 * i
...     v = 10.0 + 3.0 * math.sin(2 * math.pi * t / 86400)
...     p.learn(t, v, 10.0)
>>> p.explains()
True
>>> t = 1.6e9 + 300 * (24 * 12 * 4)
>>> abs(10.0 + p.expect(t) - (10.0 + 3.0 * math.sin(2 * math.pi * t / 86400))) < 0.3
True
>>> 1.0 <= p.spread(t) < 3.0                          # a smooth day: about as wide at every hour
True
"""

from __future__ import annotations

import math

from riverwatch.state import Slotted

_DAY = 86400.0
_HOUR = 3600.0
_MIN_SPAN = 2 * _DAY      # the profile is not trusted before it has seen two whole days


class SeasonalProfile(Slotted):
    """Hour-of-day and day-of-week profile of the departure from a level, and whether it helps.

    Parameters
    ----------
    weight
        Least EWMA weight of a slot update (young slots average their observations equally).
    ratio
        The profile is used once its residual variance is below ``ratio`` × the plain one (and
        dropped again above ``(1 + ratio) / 2`` ×, a hysteresis so it does not flicker).
    """

    __slots__ = ("weight", "ratio", "hour", "hour_n", "week", "week_n", "var_plain", "var_seasonal",
                 "n", "t_first", "active", "hour_var")
    slot_defaults = {"hour_var": None}

    def __init__(self, weight: float = 0.02, ratio: float = 0.5) -> None:
        self.weight, self.ratio = weight, ratio
        self.hour = [0.0] * 24
        self.hour_n = [0.0] * 24
        self.week = [0.0] * 7
        self.week_n = [0] * 7
        self.var_plain = self.var_seasonal = 0.0
        self.n = 0
        self.t_first = math.nan
        self.active = False
        self.hour_var = [0.0] * 24

    @staticmethod
    def _slots(t: float) -> tuple[int, int, float, int]:
        """(hour slot below, hour slot above, interpolation fraction, day-of-week slot) of ``t``."""
        p = (t % _DAY) / _HOUR - 0.5
        i0 = math.floor(p)
        f = p - i0
        return i0 % 24, (i0 + 1) % 24, f, int(t // _DAY) % 7

    def expect(self, t: float) -> float:
        """Expected departure from the level at time ``t`` (0 for a slot never seen)."""
        i0, i1, f, d = self._slots(t)
        h = self.hour
        return h[i0] + f * (h[i1] - h[i0]) + self.week[d]

    def spread(self, t: float) -> float:
        """How much wider than on average the departures from the profile are at the time of day of
        ``t`` (variance ratio, at least 1): large where the day changes faster than the slots follow."""
        hv = self.hour_var
        mean = sum(hv) / 24.0 if hv else 0.0
        if mean <= 0.0:
            return 1.0
        i0, i1, f, _ = self._slots(t)
        return max(1.0, (hv[i0] + f * (hv[i1] - hv[i0])) / mean)

    def explains(self) -> bool:
        """Whether the profile currently explains the variance clearly better than the plain level."""
        return self.active

    def learn(self, t: float, value: float, level: float) -> None:
        """Learn ``value`` at ``t`` against the current ``level`` (before the level learns it)."""
        i0, i1, f, d = self._slots(t)
        h, hn = self.hour, self.hour_n
        r = value - level
        e = r - (h[i0] + f * (h[i1] - h[i0]) + self.week[d])
        n = self.n = self.n + 1
        if n == 1:
            self.t_first = t
        a = max(self.weight * 0.1, 1.0 / n)
        self.var_plain += a * (r * r - self.var_plain)
        self.var_seasonal += a * (e * e - self.var_seasonal)
        w = self.weight
        if self.hour_var is None:
            self.hour_var = [0.0] * 24
        hv = self.hour_var
        for i, share in ((i0, 1.0 - f), (i1, f)):
            if share > 0.0:
                c = hn[i] = hn[i] + share
                step = share * max(w, 1.0 / c)
                h[i] += step * e
                hv[i] += step * (e * e - hv[i])
        c = self.week_n[d] = self.week_n[d] + 1
        self.week[d] += max(w * 0.1, 1.0 / c) * 0.5 * e
        if t - self.t_first >= _MIN_SPAN:
            ratio = self.ratio if not self.active else 0.5 * (1.0 + self.ratio)
            self.active = self.var_seasonal < ratio * self.var_plain
