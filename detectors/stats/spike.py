"""The spike check: one reading far from where the stream was, that the next reading leaves again.

A spike is judged against a local *reference*, the median of the three readings before it: a spike
that follows another spike (often across a gap in the record) is measured from where the stream
was, not from the first spike, and one spike among the three does not move the reference. The
previous reading ``v1`` departed from the reference ``r``; the current reading ``v`` came back when it
lies on the other side of ``v1`` and ``|v − r| ≤ ret × jump``, ``jump = min(|v1 − r|, |v1 − v|)``.
The ratio is the smaller of ``jump / (k × scale)`` (the caller's noise scale) and ``jump / (rel ×
max(|r|, |v|, res))`` (a least size relative to the value; a level is sized from its datum). A rise
that persists (a flood, a plume) does not come back in one reading.

When the reading before the last also departed (a two-reading spike, 55 → 82 → 80 → 55), the two
must agree within ``ret`` × the jump: a peak and the first reading of its recession (0.5 → 4.0 →
11.2 → 8.5 → 3.9 m³/s, a flashy river's pulse) hold no level away from the stream.

The return may also overshoot where the stream was (314 → 786 → 26 mg/L), but only after a
one-reading departure: a rise over two readings that a fall then undoes is a flood's first flush
and dilution. :meth:`Spike.excursion` is the same shape without the size tests (the cluster check,
:mod:`detectors.stats.spike_cluster`, counts them); :meth:`Spike.at_floor` says whether the readings
it is measured from touch the bottom of the measuring range, where noise comes back by itself.

>>> s = Spike(k=8.0, ret=0.5, rel=0.15)
>>> for v in (55.0, 55.4, 54.7, 82.0, 55.2, 71.0):
...     s.learn(v)
>>> round(s.ratio(55.1, 0.8, 0.05), 2)   # 71 after 82: measured from 55.2, the median of 54.7, 82, 55.2
1.91
>>> s.ratio(72.0, 0.8, 0.05)             # stayed up: no spike
0.0
"""

from __future__ import annotations

import math

from riverwatch.state import Slotted


class Spike(Slotted):
    """The last four readings and the spike check on them (see the module docstring)."""

    __slots__ = ("k", "ret", "rel", "v1", "v2", "v3", "v4")

    def __init__(self, k: float = 8.0, ret: float = 0.5, rel: float = 0.15) -> None:
        self.k, self.ret, self.rel = k, ret, rel
        self.v1 = self.v2 = self.v3 = self.v4 = math.nan

    def reference(self) -> float:
        """The median of the three readings before the last (the one before it while fewer are in)."""
        if self.v4 != self.v4:
            return self.v2
        return sorted((self.v2, self.v3, self.v4))[1]

    def ratio(self, v: float, scale: float, res: float, datum: float = 0.0) -> float:
        """The last reading's departure if ``v`` came back (0 otherwise; pure): its jump over ``k`` ×
        the noise ``scale``, at most its jump over ``rel`` × the value above ``datum`` (at least
        ``res``)."""
        jump = self.excursion(v)
        if not jump:
            return 0.0
        r = self.reference()
        return min(jump / (self.k * scale), jump / (self.rel * max(abs(r - datum), abs(v - datum), res)))

    def excursion(self, v: float) -> float:
        """The last reading's jump if ``v`` came back (the shape of :meth:`ratio`), else 0 (pure).

        >>> s = Spike()
        >>> for x in (5.0, 5.1, 4.9, 9.0):
        ...     s.learn(x)
        >>> s.excursion(5.0), s.excursion(8.5)
        (4.0, 0.0)
        """
        r = self.reference()
        up, down = self.v1 - r, self.v1 - v
        if not up * down > 0:
            return 0.0
        jump = min(abs(up), abs(down))
        side = 1.0 if up > 0 else -1.0
        if (self.v2 - r) * side > self.ret * abs(up) and abs(self.v1 - self.v2) > self.ret * jump:
            return 0.0  # two readings away that do not agree: a peak and its recession, not a spike
        back = (v - r) * side  # how far v stayed on the spike's side of r
        if abs(back) <= self.ret * jump:
            return jump
        # overshoot (back past where the stream was): only after a one-reading departure, not a
        # rise over two readings that a fall then undoes (a flood's first flush, then dilution)
        return jump if back < 0 and abs(self.v2 - r) <= 0.25 * abs(up) else 0.0

    def multiple(self, v: float) -> float:
        """How many times the last reading is above both where the stream was and ``v``, if ``v``
        came back from it (an upward excursion), else 0 (pure).

        >>> s = Spike()
        >>> for x in (4.0, 4.5, 3.9, 15.3):
        ...     s.learn(x)
        >>> round(s.multiple(3.4), 2), s.multiple(15.0)
        (3.83, 0.0)
        """
        if not self.excursion(v) or self.v1 < self.reference():
            return 0.0
        low = max(self.reference(), v)
        return self.v1 / low if low > 0 else math.inf

    def continued(self) -> bool:
        """Whether the last reading went on the way the two before it went (``v3 < v2 < v1`` or the
        reverse): the crest of a rise rather than a departure from where the stream was."""
        return (self.v3 < self.v2 < self.v1) or (self.v3 > self.v2 > self.v1)

    def at_floor(self, floor: float) -> bool:
        """Whether one of the readings the last is measured from (the three before it) lies at or
        below ``floor`` (a NaN, too few readings, does not)."""
        return min(self.v2, self.v3, self.v4) <= floor

    def learn(self, v: float) -> None:
        """Keep ``v`` as the last reading."""
        self.v4, self.v3, self.v2, self.v1 = self.v3, self.v2, self.v1, v
