"""The excursion checks of :mod:`detectors.sensor_fault`: rate, spike and the cluster check's inputs.

:class:`ExcursionChecks` is a mixin of :class:`detectors.sensor_fault.SensorFault` (no state of its
own: it reads the detector's slots ``spike``, ``moves``, ``v1``, ``v2``, ``t1``, ``t2``, ``ret``,
``k``, ``max_rate``, ``rate_factor``, ``proportional``, ``dscale_rel``, ``dt_typ``, ``gap_factor``,
``gap_spike``, ``multiple``, ``multiple_min``, ``lo`` and ``res``, and the noise scales'
``_level`` and ``_size``). An *excursion* is a reading that the next one leaves again, back towards where the
stream was (:mod:`detectors.stats.spike`); these methods judge it against the stream's noise, the
river's own recent moves (:mod:`detectors.stats.river_moves`), the catalog's rate limit and, for an
optical quantity, how many times the stream it is (``spike_multiple``).

>>> class Stream(ExcursionChecks):
...     def __init__(self):
...         self.moves, self.dt_typ, self.gap_factor = None, 900.0, 1.3
>>> s = Stream()
>>> s._beyond_river(2.0, 5.0), s._after_gap(900.0), s._after_gap(3600.0)
(5.0, False, True)
"""

from __future__ import annotations

from detectors.stats.fault_scores import worse as _worse
from riverwatch.state import Slotted


class ExcursionChecks(Slotted):
    """Judging an excursion of the detector's stream, on the detector's own slots."""

    __slots__ = ()

    def _excursion(self, dt: float, d2: float, v: float, scale: float) -> tuple[str, float, float]:
        """Rate check of the previous reading, given the change ``d2`` (over ``dt``) to ``v``: an
        excursion (opposite signs, ``v`` back within ``spike_return`` of the jump) faster than the
        catalog's rate limit. For a :data:`PROPORTIONAL` quantity the noise scale is at least
        ``dscale_rel`` × the neighbours' level (turbid water carries noise in proportion).
        """
        d1 = self.v1 - self.v2
        jump = min(abs(d1), abs(d2))
        worst = ("none", 0.0, self.v1)
        if not (d1 * d2 < 0 and abs(v - self.v2) <= self.ret * jump):
            return worst
        if self.proportional:
            scale = max(scale, self.dscale_rel * self._level(min(self._size(v), self._size(self.v2))))
        beyond_noise = self._beyond_river(jump, jump / (self.k * scale))
        if self.max_rate:
            fastest = min(abs(d1) / (self.t1 - self.t2), abs(d2) / dt) * 3600.0
            too_fast = fastest / (self.rate_factor * self.max_rate)
            worst = _worse(worst, ("rate", min(beyond_noise, too_fast), self.v1))
        return worst

    def _spike_ratio(self, v: float, scale: float) -> float:
        """The spike check (:class:`detectors.stats.spike.Spike`) with the excursion's noise scale
        (relative to the level for a :data:`PROPORTIONAL` quantity); none at the floor (pure)."""
        if self.spike.at_floor(self.lo + self.res):
            return 0.0
        if self.proportional:
            scale = max(scale, self.dscale_rel * self._level(min(self._size(v), self._size(self.spike.reference()))))
        if self.dt_typ and self.t1 - self.t2 > self.gap_factor * self.dt_typ:
            scale *= self.gap_spike  # the reading after a gap: the record was cut around it
        r = self.spike.ratio(v, scale, self.res, self.datum)
        if not r > 0:                                         # no excursion
            return r
        jump = self.spike.excursion(v)
        if jump >= self.multiple_min:                         # an optical artefact, whatever the noise
            r = max(r, self.spike.multiple(v) / self.multiple)
        return self._beyond_river(jump, r)

    def _beyond_river(self, jump: float, ratio: float) -> float:
        """``ratio``, at most ``jump`` over the largest one-reading move the river itself kept lately
        (:class:`RiverMoves`, :data:`HYDROGRAPH` quantities): a flood's pulse is no spike."""
        moved = self.moves.moved if self.moves is not None else 0.0
        return min(ratio, jump / moved) if moved > 0 else ratio

    def _after_gap(self, dt: float) -> bool:
        """Whether an interval of ``dt`` seconds is a gap (longer than ``gap_factor`` × the usual)."""
        return bool(self.dt_typ) and dt > self.gap_factor * self.dt_typ

    def _cluster_args(self, v: float, across: bool) -> tuple[float, float, float, float]:
        """:class:`SpikeCluster`'s inputs for ``v`` (``across``: it returns from a crest only after a
        gap): jump (none at the floor, across a gap or within the river's own recent moves), size,
        noise level, res."""
        jump = 0.0 if across else self.spike.excursion(v)
        if not jump or self.spike.at_floor(self.lo + self.res) or self._beyond_river(jump, 1.0) < 1.0:
            return 0.0, 0.0, 0.0, self.res
        r = self.spike.reference()
        level = self._level(min(self._size(v), self._size(r))) if self.proportional else 0.0
        return jump, max(self._size(r), self._size(v)), level, self.res
