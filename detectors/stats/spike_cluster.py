"""Clusters of spikes: several excursions that come back within a few readings — a loose or fouled
probe — judged against the noise of *calm* times.

The spike check judges each excursion against the stream's difference scale, which the excursions
of an erratic stretch themselves widen: at Herbert site 6 suspended solids jumped 4 → 15 → 3 mg/L
every few readings for days (labelled high variability), and after the first few such jumps every
later one was under the spike threshold. :class:`SpikeCluster` keeps a *calm* scale, the lower
envelope of the caller's difference scale (it follows the scale down at once and up only slowly,
by e^(1/``rise_n``) a reading), and counts excursions (:meth:`detectors.stats.spike.Spike.excursion`)
of at least ``k`` calm scales and ``rel`` × the value: ``n_min`` of them within ``window`` readings
*and* ``window_s`` seconds is a cluster (ratio = count / ``n_min``). Within a time too: blips a day
apart are as rare at 1.6-hour readings (12 readings = 19 h) as at 30-minute ones (6 h).

A lone spike, blips a day apart (Sandy Creek: about one every 1.3 days), a flood's rise, a plume's
proportional noise or a daily cycle make no cluster: the first is one excursion, the second are
never three within the window, the others do not come back or stay within the calm scales.

>>> c = SpikeCluster(k=6.0, rel=0.15, n_min=3, window=12, window_s=6 * 3600.0)
>>> for i in range(40):                                  # calm: difference scale 0.5 at 4 mg/L
...     c.learn(1800.0 * i, 0.5, 0.0, 0.0, 4.0, 4.0, 0.05)
>>> [round(c.ratio(72000.0, j, 4.0, 4.0, 0.05), 2) for j in (0.0, 10.0)]  # none; one of 20 scales
[0.0, 0.33]
>>> for i, j in enumerate((10.0, 0.0, 0.0, 10.0, 0.0, 10.0)):  # erratic: the scale widens, not the calm one
...     c.learn(72000.0 + 1800.0 * i, 2.5, 0.0, j, 4.0, 4.0, 0.05)
>>> round(c.ratio(82800.0, 0.0, 4.0, 4.0, 0.05), 2), round(c.ratio(82800.0, 10.0, 4.0, 4.0, 0.05), 2)
(1.0, 1.33)
"""

from __future__ import annotations

import math

from riverwatch.state import Slotted


class SpikeCluster(Slotted):
    """Counts large excursions within the last ``window`` readings (see the module docstring)."""

    __slots__ = ("k", "rel", "n_min", "window", "window_s", "up", "calm", "calm_rel", "events")

    def __init__(self, k: float = 6.0, rel: float = 0.15, n_min: int = 3, window: int = 12,
                 window_s: float = 6 * 3600.0, rise_n: float = 480.0) -> None:
        self.k, self.rel, self.n_min, self.window, self.window_s = k, rel, n_min, window, window_s
        self.up = math.exp(1.0 / rise_n)
        self.calm = self.calm_rel = math.inf
        self.events: tuple[tuple[int, float], ...] = ()  # (readings ago, time) of recent excursions

    def _big(self, jump: float, size: float, level: float, res: float) -> bool:
        """Whether an excursion of ``jump`` counts: ≥ ``k`` calm scales (the relative one times the
        noise ``level``) and ≥ ``rel`` × ``size`` (the value it is measured against)."""
        if not jump > 0 or self.calm == math.inf:
            return False
        scale = max(self.calm, res, self.calm_rel * level if self.calm_rel < math.inf else 0.0)
        return jump >= self.k * scale and jump >= self.rel * max(size, res)

    def _recent(self, t: float) -> tuple[tuple[int, float], ...]:
        return tuple((a + 1, te) for a, te in self.events if a + 1 < self.window and t - te <= self.window_s)

    def ratio(self, t: float, jump: float, size: float, level: float, res: float) -> float:
        """The cluster ratio if the current reading (at ``t``) ends an excursion of ``jump`` (0: none),
        with the excursions of the last ``window`` readings and ``window_s`` seconds (pure)."""
        n = len(self._recent(t)) + self._big(jump, size, level, res)
        return n / self.n_min if n else 0.0

    def learn(self, t: float, dscale: float, dscale_rel: float, jump: float, size: float, level: float,
              res: float) -> None:
        """One reading at ``t``: the caller's difference scales (absolute, relative: 0 for none) and
        the excursion the reading ended (as for :meth:`ratio`)."""
        big = self._big(jump, size, level, res)
        if big or self.events:
            self.events = (((0, t),) if big else ()) + self._recent(t)
        if dscale > 0:
            self.calm = self._follow(self.calm, dscale)
        if dscale_rel > 0:
            self.calm_rel = self._follow(self.calm_rel, dscale_rel)

    def _follow(self, calm: float, scale: float) -> float:
        """The lower envelope of ``scale``: down with it at once, up by at most ``up`` a reading."""
        return scale if scale < calm else min(scale, calm * self.up)
