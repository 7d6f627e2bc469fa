"""The noise scales of :mod:`detectors.sensor_fault`: roughness, usual magnitude and relative scale.

:class:`NoiseScales` is a mixin of :class:`detectors.sensor_fault.SensorFault` (no state of its
own: it reads and updates the detector's slots ``rough_fast``, ``rough_slow``, ``mag``, ``dscale_rel``,
``dd``, ``v1``, ``v2``, ``res``, ``n``, ``a``, ``noise_a``, ``noise_b``, ``noise_factor`` and
``proportional``, ``floor`` and ``datum``). For a :data:`detectors.stats.fault_scores.PROPORTIONAL`
quantity (stage, discharge, turbidity …) noise is measured relative to the level, so a river in flood
is not noisy merely because its numbers are larger. A level on a datum
(:data:`detectors.stats.fault_scores.ON_A_DATUM`) is sized from its datum (:meth:`NoiseScales._size`),
so a gauge that reports metres above sea level is judged as one that reports its stage.

>>> class Stream(NoiseScales):
...     def __init__(self):
...         self.proportional, self.res, self.mag, self.datum = False, 0.01, 1.0, 0.0
...         self.rough_slow, self.dd, self.v1, self.v2 = 0.0, 0.0, 1.0, 1.0
>>> s = Stream()
>>> s.dd = 0.2                    # the last three readings bent upwards (curvature +0.2)
>>> round(s._rough(0.9), 3)       # 1.0, 1.0, 0.9 bends down (-0.1): half the smaller bend
0.05
>>> s._rough(1.1)                 # 1.0, 1.0, 1.1 bends the same way: no roughness
0.0
"""

from __future__ import annotations

import math

from detectors.stats.fault_scores import datum_of
from riverwatch.state import Slotted

#: How often an erratic sensor's level goes back on itself: independent noise does so at two
#: readings in three; the noise check counts in full from half that.
NOISE_REVERSALS = 1.0 / 3.0


class NoiseScales(Slotted):
    """Roughness and magnitude statistics, learnt and read on the detector's own slots."""

    __slots__ = ()

    def _learn_relative_scale(self, d: float, low: float) -> None:
        """``dscale_rel``: the robust difference scale of a proportional quantity as a fraction
        of the level (:meth:`_level`) of the two readings, winsorised like ``dscale``."""
        level = self._level(low)
        scale = max(self.dscale_rel, self.res / level)
        ad = min(abs(d) / level, 4.0 * scale) if self.n > 4 else abs(d) / level
        self.dscale_rel += (self.a if self.n > 4 else 1.0 / self.n) * (ad - self.dscale_rel)

    def _size(self, v: float) -> float:
        """How large ``v`` is for the relative checks: ``|v − datum|`` (``datum`` is 0 but for a
        level on a datum, see :meth:`_learn_floor`)."""
        return abs(v - self.datum)

    def _learn_floor(self, held: float) -> None:
        """``floor``, the lowest level ``held`` over three readings (a one- or two-reading dip does
        not move it), and the ``datum`` sizes are taken from
        (:func:`detectors.stats.fault_scores.datum_of`)."""
        if not held >= self.floor:
            self.floor = held
            self.datum = datum_of(held)

    def _learn_magnitude(self, m: float) -> None:
        """The usual magnitude ``mag``: the 20th percentile of |v|, tracked by sign in the log domain
        (up by e^(w/4), down by e^(−w), never past the reading): a plume at sixty times the usual
        turbidity lifts it no faster than a small rise (seven hours at 2-minute readings: 12 %).
        """
        m = max(m, self.res)
        if math.isnan(self.mag):
            self.mag = m
            return
        w = max(self.noise_b, 1.0 / self.n)
        if m < self.mag:
            self.mag = max(m, self.mag * math.exp(-w))
        elif m > self.mag:
            self.mag = min(m, self.mag * math.exp(0.25 * w))

    def _noise_ratio(self, v: float) -> float:
        """The noise check's ratio if ``v`` came next: short-run roughness over ``noise_factor`` ×
        the long-run roughness, in proportion while the level has gone back on itself less often
        than :data:`NOISE_REVERSALS` lately (a recession recorded in stairs bends at every reading
        but never rises: no erratic sensor) (pure)."""
        fast = self.rough_fast + self.noise_a * (self._rough(v) - self.rough_fast)
        rev = self.rev + self.noise_a * (self._reversal(v) - self.rev)
        return fast / (self.noise_factor * max(self.rough_slow, self._rough_floor())) \
            * min(1.0, rev / NOISE_REVERSALS)

    def _reversal(self, v: float) -> float:
        """1.0 if ``v`` went back on the last change (both more than the resolution), else 0.0."""
        d1, d2 = self.v1 - self.v2, v - self.v1
        return 1.0 if d1 * d2 < 0 and min(abs(d1), abs(d2)) > self.res else 0.0

    def _rough(self, v: float) -> float:
        """How far the last three readings went back on themselves, winsorised at 6 × its long-run
        level: the smaller of the two changes when they have opposite signs, else 0.

        A rise or a recession, however curved, does not reverse: it is not roughness. For a
        proportional quantity it is a fraction of the level :meth:`_level` of the three
        readings (noise relative to the value).
        """
        dd1, dd2 = self.dd, v - 2.0 * self.v1 + self.v2
        r = min(-dd1, dd2) / 2.0 if dd1 < 0 < dd2 else min(dd1, -dd2) / 2.0 if dd2 < 0 < dd1 else 0.0
        if self.proportional:
            r /= self._level(min(self._size(v), self._size(self.v1), self._size(self.v2)))
        cap = 6.0 * max(self.rough_slow, self._rough_floor())
        return r if self.rough_slow <= 0 or r < cap else cap

    def _level(self, low: float) -> float:
        """The level a proportional quantity's roughness is a fraction of: the smallest of the
        readings concerned, ``low``, but at least the usual magnitude (and the resolution)."""
        return max(low, self.mag, self.res)

    def _rough_floor(self) -> float:
        """The smallest long-run roughness the noise check assumes: the sensor's resolution, as a
        fraction of the usual magnitude for a proportional quantity."""
        return self.res / self._level(0.0) if self.proportional else self.res
