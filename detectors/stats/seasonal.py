"""A seasonal baseline learnt online: the expected departure from the level for the time of day and week.

An additive profile of 24 hour-of-day slots (read by linear interpolation between slot centres, so
a 5-minute series sees a smooth curve) plus 7 day-of-week offsets, learnt from the one-step residual
``value − level``. Weekends (Saturday and Sunday) learn 24 hour slots of their own, of their
difference from that day shape; once they explain the weekend clearly better (residual variance at
weekends below ``ratio`` × that without them, with the same hysteresis as the profile; judged on a
whole weekend day of forecasts from slots learnt a day before at least, as a young slot following the
level within its hour would look good), weekends are expected with them and the hour slots learn from
weekdays only. So a working-week day shape with quiet
weekends (office traffic, a works' discharge) is followed on both kinds of day, which one day shape
shifted by day-of-week offsets cannot do; a series whose weekends are like its weekdays keeps one day
shape. Beside it, two exponentially weighted variances: of the residual against the plain level and
against level + profile. :meth:`SeasonalProfile.explains` says whether the profile has
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
from array import array

from riverwatch.state import Slotted

_DAY = 86400.0
_HOUR = 3600.0
_MIN_SPAN = 2 * _DAY      # the profile is not trusted before it has seen two whole days
_WEEKEND = (2, 3)         # day-of-week slots (days since the epoch, a Thursday, mod 7) of Saturday and Sunday


def _slots24(values=None) -> array:
    """24 slots stored as 4-byte floats: exact through a checkpoint and about half a list's pickle."""
    return array("f", values if values is not None else bytes(4 * 24))


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
                 "n", "t_first", "active", "hour_var", "wkend", "wkend_n", "var_wk_one", "var_wk_own",
                 "wk_active", "wk_n")
    slot_defaults = {"hour_var": None, "wkend": None, "wkend_n": None, "var_wk_one": 0.0, "var_wk_own": 0.0,
                     "wk_active": False, "wk_n": 0}
    state_version = 2           # 2: per-hour slots as 4-byte float arrays, the weekend's own hour slots

    def __init__(self, weight: float = 0.02, ratio: float = 0.5) -> None:
        self.weight, self.ratio = weight, ratio
        self.hour = _slots24()
        self.hour_n = _slots24()
        self.week = [0.0] * 7
        self.week_n = [0] * 7
        self.var_plain = self.var_seasonal = 0.0
        self.n = 0
        self.t_first = math.nan
        self.active = False
        self.hour_var = _slots24()
        self.wkend = _slots24()         # weekend departure from the hour slots
        self.wkend_n = _slots24()
        self.var_wk_one = self.var_wk_own = 0.0     # weekend residual variance without / with them
        self.wk_active = False                      # whether weekends are expected with their own slots
        self.wk_n = 0                               # weekend readings compared

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        """A version-1 checkpoint kept lists (and maybe no ``hour_var``) and had no weekend slots."""
        if version < 2:
            self.hour, self.hour_n = _slots24(self.hour), _slots24(self.hour_n)
            self.hour_var = _slots24(self.hour_var)
            self.wkend, self.wkend_n = _slots24(), _slots24()
            self.var_wk_one = self.var_wk_own = 0.0
            self.wk_active, self.wk_n = False, 0

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
        e = h[i0] + f * (h[i1] - h[i0]) + self.week[d]
        if self.wk_active and d in _WEEKEND:
            g = self.wkend
            e += g[i0] + f * (g[i1] - g[i0])
        return e

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
        h, g = self.hour, self.wkend
        r = value - level
        one = r - (h[i0] + f * (h[i1] - h[i0]) + self.week[d])     # against the one day shape
        weekend = d in _WEEKEND
        own = one - (g[i0] + f * (g[i1] - g[i0])) if weekend else one   # against the weekend's own
        mine = weekend and self.wk_active             # a weekend expected with its own slots
        e = own if mine else one
        n = self.n = self.n + 1
        if n == 1:
            self.t_first = t
        if weekend:       # evidence for the weekend's own slots: out-of-day forecasts only (a slot learnt
            # for a day at least), else a young slot following the level within the hour looks good
            per_slot = (n / max((t - self.t_first) / _DAY, 1e-9)) / 24.0     # readings per slot per day
            if self.wkend_n[i0 if f < 0.5 else i1] >= 0.9 * per_slot:
                k = self.wk_n = self.wk_n + 1
                b = max(self.weight * 0.1, 1.0 / k)
                self.var_wk_one += b * (one * one - self.var_wk_one)
                self.var_wk_own += b * (own * own - self.var_wk_own)
                if k >= 0.9 * 24 * per_slot:      # decided on a whole weekend day of such forecasts
                    ratio = self.ratio if not self.wk_active else 0.5 * (1.0 + self.ratio)
                    self.wk_active = self.var_wk_own < ratio * self.var_wk_one
        a = max(self.weight * 0.1, 1.0 / n)
        self.var_plain += a * (r * r - self.var_plain)
        self.var_seasonal += a * (e * e - self.var_seasonal)
        w = self.weight
        hn, gn, hv = self.hour_n, self.wkend_n, self.hour_var
        for i, share in ((i0, 1.0 - f), (i1, f)):
            if share > 0.0:
                if not mine:      # the day shape: every day, or weekdays only once weekends have their own
                    c = hn[i] = hn[i] + share
                    step = share * max(w, 1.0 / c)
                    h[i] += step * e
                    hv[i] += step * (e * e - hv[i])
                if weekend:
                    c = gn[i] = gn[i] + share
                    step = share * max(w, 1.0 / c)
                    g[i] += step * own
                    if mine:
                        hv[i] += step * (e * e - hv[i])
        c = self.week_n[d] = self.week_n[d] + 1
        self.week[d] += max(w * 0.1, 1.0 / c) * 0.5 * e
        if t - self.t_first >= _MIN_SPAN:
            ratio = self.ratio if not self.active else 0.5 * (1.0 + self.ratio)
            self.active = self.var_seasonal < ratio * self.var_plain
