"""How far a river has itself moved in one reading lately: the yardstick for a spike in a flood.

The spike check judges a departure against the noise of calm water. In a flood on a small, flashy
catchment the river itself moves that far in a reading: at the San Antonio River at San Antonio
(15-minute readings) the stage rose 1.22 → 1.78 → 2.53 m and fell back within two hours, and the
next rain burst's pulse, 1.12 → 1.80 → 1.29 → 1.11 m, has the shape of a spike. Stage is measured
from an arbitrary datum, so the size of such a pulse relative to the value says nothing either;
relative to what the river did an hour before, it is ordinary.

:class:`RiverMoves` keeps ``moved``, the largest one-reading change of the last readings that the
river *kept* — the next two readings stayed at least half of it beyond where it started, and no gap
lay inside it — forgetting it by e^(−1/``memory``) a reading. A sensor spike never counts: the next
reading undoes it. The caller judges a departure of a flow quantity no larger than ``moved`` as the
river's own.

>>> m = RiverMoves(memory=48.0)
>>> for v in (1.22, 1.22, 1.78, 2.53, 2.27, 2.08, 1.49):  # the first wave: 1.22 → 1.78 is kept
...     m.learn(v, False)
>>> round(m.moved, 2)                                     # 0.56, forgotten for two readings
0.54
>>> m2 = RiverMoves(memory=48.0)
>>> for v in (1.22, 1.22, 1.80, 1.23, 1.22):              # a one-reading spike is not
...     m2.learn(v, False)
>>> m2.moved
0.0
"""

from __future__ import annotations

import math

from riverwatch.state import Slotted


class RiverMoves(Slotted):
    """The largest one-reading change the river kept lately (see the module docstring)."""

    __slots__ = ("keep", "w1", "w2", "w3", "gap1", "gap2", "moved")

    def __init__(self, memory: float = 48.0) -> None:
        self.keep = math.exp(-1.0 / memory)
        self.w1 = self.w2 = self.w3 = math.nan      # the last three readings, newest first
        self.gap1 = self.gap2 = True                # whether a gap lay before w1, before w2
        self.moved = 0.0

    def learn(self, v: float, after_gap: bool) -> None:
        """Take reading ``v`` (``after_gap``: a gap lay before it). The change ``w3 → w2`` counts
        once ``w1`` and ``v`` both stayed half of it beyond ``w3``."""
        self.moved *= self.keep
        m = self.w2 - self.w3
        if m and not self.gap2:
            s = 1.0 if m > 0 else -1.0
            if min((self.w1 - self.w3) * s, (v - self.w3) * s) >= 0.5 * abs(m) and abs(m) > self.moved:
                self.moved = abs(m)
        self.w3, self.w2, self.w1 = self.w2, self.w1, v
        self.gap2, self.gap1 = self.gap1, after_gap
