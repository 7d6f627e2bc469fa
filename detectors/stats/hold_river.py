"""How far the river moved while a sonde quantity held its value: "stuck" judged against the river.

A coarse sensor on a calm stream holds its value for days (turbidity read in whole NTU sits at
2 NTU through a baseflow week; conductivity in 10 µS/cm steps holds one step), and its own readings
cannot tell that from a frozen sensor. The water level on the same sonde can: sediment and solutes
follow the flow, so turbidity or conductivity that holds while the river rises or falls further
than it ever did during that quantity's holds lately has stopped following the river.

:class:`RiverDuringHold` keeps the range of the water level over the current hold and ``ref``, the
widest range the level covered during a finished hold lately, at least the level's resolution. It
forgets by changes of the value, not by time (halving every ``HALF_LIFE_HOLDS`` = 20 changes): a
calm week is one long hold and says nothing new about how far the river may move before the value
does. :meth:`RiverDuringHold.ratio` is the range now over ``steps`` × ``ref``, or ``None`` when no
level came with the hold (the caller then judges by time alone).

>>> r = RiverDuringHold()
>>> for level, changed in ((0.50, True), (0.51, False), (0.52, True)):
...     r.learn(level, changed)                          # a hold over 1 cm of river: the reference
>>> r.ratio(0.52, 3.0)                                   # the river has not moved since
0.0
>>> round(r.ratio(0.62, 3.0), 2)                         # 10 cm on: over three references
3.33
>>> RiverDuringHold().ratio(None, 3.0) is None           # no level on this sonde
True
"""

from __future__ import annotations

import math

from detectors.stats.fault_scores import RESOLUTION
from riverwatch.state import Slotted

#: The least reference: the water level's resolution (m).
LEVEL_RESOLUTION = RESOLUTION["water_level"]
#: The reference halves over this many changes of the value.
HALF_LIFE_HOLDS = 20


class RiverDuringHold(Slotted):
    """The level's range over the current hold against its range over recent holds (see the module)."""

    __slots__ = ("lo", "hi", "ref")

    def __init__(self) -> None:
        self.lo = self.hi = math.nan    # the level's range since the value last changed
        self.ref = 0.0

    def learn(self, level: float | None, changed: bool) -> None:
        """Take the level at a reading; ``changed``: the quantity's value changed there (a new hold
        starts, and the range of the one that ended may become the reference)."""
        if changed:
            moved = self.hi - self.lo
            self.ref = max(self.ref * 0.5 ** (1.0 / HALF_LIFE_HOLDS), moved if moved == moved else 0.0)
            self.lo = self.hi = math.nan
        self.lo, self.hi = self._span(level)

    def ratio(self, level: float | None, steps: float) -> float | None:
        """The level's range over the hold, with ``level`` now, in ``steps`` references (pure)."""
        lo, hi = self._span(level)
        if lo != lo:
            return None
        return (hi - lo) / (steps * max(self.ref, LEVEL_RESOLUTION))

    def _span(self, level: float | None) -> tuple[float, float]:
        """The level's range over the hold with ``level`` taken in (pure)."""
        if level is None:
            return self.lo, self.hi
        if self.lo != self.lo:
            return level, level
        return min(self.lo, level), max(self.hi, level)
