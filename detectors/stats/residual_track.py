"""One water-quality quantity's residual track: robust baseline, residual scale, tail factor, blips
and its recent residuals (for early signs).

Used by :mod:`detectors.quality_residual`, one track per watched quantity.
"""

from __future__ import annotations

import math

from riverwatch.state import Slotted

SQRT12 = math.sqrt(12.0)
#: Largest rise of the log tail factor from one reading (a gap or sparse sampling cannot jump it).
TAIL_STEP = 0.1
#: Days of blip history kept at full weight: past that, blip counts and the days they cover halve.
BLIP_DAYS = 30.0
#: Changes of value seen before the sensor's own step lifts the floor: a step, rounded at ``step``,
#: carries noise of ``step``/√12, and the first few changes may all be an event's.
QUANTUM_AFTER = 5


class ResidualTrack(Slotted):
    """Baseline, residual scale and tail factor of one quantity (seven floats and a count).

    The scale is floored at ``floor``: the configured ``least``, or the quantisation noise of the
    sensor's own step (the smallest change of value seen, ``quantum``, over √12) once
    :data:`QUANTUM_AFTER` changes are in, whichever is larger. A coarser sensor than the one the
    floors were set for then flickers by one step without it being evidence.

    ``tail`` (≥ 1) divides ``|z|`` before scoring: a streaming estimate of the quantity's recent
    high quantile of ``|z|`` in units of a reference ``|z|`` (:meth:`tail_step`), 1 while the
    quantity's tails stay below the reference. Its steps are deferred (``pending``, then ``prev``)
    and applied only once the readings they come from are known not to lead into an alarm.
    """

    __slots__ = ("floor", "mean", "scale", "t", "n", "tail", "pending", "prev", "run", "blips", "recent",
                 "least", "last", "quantum", "changes")
    slot_defaults = {"tail": 1.0, "pending": 0.0, "prev": 0.0,   # added with the tail factor
                     "run": 0, "blips": (),                       # added with blips
                     "recent": (),                                # added with early signs
                     "least": None, "last": math.nan, "quantum": math.inf, "changes": 0}  # the sensor's step

    def __init__(self, floor: float) -> None:
        self.floor = self.least = floor
        self.last, self.quantum, self.changes = math.nan, math.inf, 0
        self.mean = self.scale = self.t = 0.0
        self.n = 0
        self.tail = 1.0
        self.pending = self.prev = 0.0
        self.run = 0              # readings of the current lone run (negative: corroborated run)
        self.blips = ()           # counts of lone runs of 1, 2, … readings (see ``need``)
        self.recent = ()          # signed z of the last few readings, oldest first (see ``remember``)

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        if "least" in missing:  # a state from before the sensor's own step: its floor was the configured one
            self.least = self.floor

    def need(self, least: int, most: int, days: float, rate: float) -> int:
        """Readings a lone departure must last: the shortest run length from ``least`` (at most
        ``most``) that this quantity's own blips reached less often than ``rate`` a day.

        >>> tr = ResidualTrack(0.1)
        >>> tr.blips = (30, 15)                        # 45 blips in 30 days: 15 of two readings
        >>> tr.need(2, 6, 30.0, 0.05), tr.need(2, 6, 30.0, 1.0), ResidualTrack(0.1).need(2, 6, 30.0, 0.05)
        (3, 2, 2)
        """
        counts = self.blips
        days = days if days > 1.0 else 1.0
        longer = float(sum(counts[least - 1:]))
        for length in range(least, most):
            if longer <= rate * days:
                return length
            longer -= counts[length - 1] if length <= len(counts) else 0
        return most

    def count_blip(self, length: int, most: int) -> None:
        """Count a lone run of ``length`` readings (< ``most``) that ended."""
        counts = list(self.blips) + [0] * (most - 1 - len(self.blips))
        counts[length - 1] += 1
        self.blips = tuple(counts)

    def remember(self, z: float, keep: int) -> None:
        """Keep signed residual ``z`` of the reading in hand among the last ``keep`` (oldest first).

        >>> tr = ResidualTrack(0.1)
        >>> for z in (1.0, 2.0, 3.0, 4.0):
        ...     tr.remember(z, 3)
        >>> tr.recent
        (2.0, 3.0, 4.0)
        """
        self.recent = (*self.recent[1 - keep:], z) if keep > 1 else (z,)

    def z(self, v: float) -> float:
        return (v - self.mean) / max(self.scale, self.floor)

    def tail_step(self, az: float, dt: float, tau_s: float, quantile: float, ref: float, top: float) -> float:
        """The step of ``log tail`` that ``|z|`` = ``az`` calls for (a stochastic quantile tracker).

        An exceedance of ``ref·tail`` raises ``log tail`` by ``b·q/(1−q)`` (at most
        :data:`TAIL_STEP`), any other reading lowers it by ``b`` (``b = 1 − exp(−dt/tau_s)``), so
        ``ref·tail`` settles where a fraction ``1 − q`` exceeds it: a rise of the tails is followed
        within hours, a calm over about ``tau_s``. A departure as large as an event (``|z|`` ≥
        ``top·tail``) teaches nothing: the tail follows the quantity's everyday variability, not events.

        >>> tr = ResidualTrack(0.1)
        >>> for i in range(3000):
        ...     tr.pending += tr.tail_step(12.0 if i % 20 == 0 else 1.0, 60.0, 86400.0, 0.99, 4.0, 64.0)
        ...     tr.settle(True)
        >>> round(tr.tail, 1)                              # 5 % reach 12 = 3 × ref: tail ≈ 3
        3.0
        """
        b = 1.0 - math.exp(-dt / tau_s)
        if az > ref * self.tail:
            if az >= top * self.tail:
                return 0.0
            step = b * quantile / (1.0 - quantile)
            return step if step < TAIL_STEP else TAIL_STEP
        return -b

    def settle(self, commit: bool) -> None:
        """Apply the previous block's steps (when ``commit``) and start a new block."""
        if commit and self.prev:
            tail = self.tail * math.exp(self.prev)
            self.tail = tail if tail > 1.0 else 1.0
        self.prev, self.pending = self.pending, 0.0

    def departure(self, v: float) -> float:
        """``v`` − baseline, winsorised at four residual scales (0 before the first reading)."""
        if not self.n:
            return 0.0
        lim = 4.0 * max(self.scale, self.floor)
        d = v - self.mean
        return lim if d > lim else -lim if d < -lim else d

    def learn(self, t: float, v: float, tau_s: float, scale_tau_s: float, explained: float = 0.0) -> None:
        """Learn ``v``; ``explained`` is the part of its departure the flows explain (not noise)."""
        self.learn_step(v)
        if not self.n:
            self.mean, self.t, self.n = v, t, 1
            return
        dt = max(t - self.t, 0.0)
        d = v - self.mean
        s = max(self.scale, self.floor)
        b = max(1.0 - math.exp(-dt / scale_tau_s), 1.0 / (self.n + 1))
        self.scale += b * (min(abs(d - explained), 4.0 * s) - self.scale)
        lim = 4.0 * s
        self.mean += (1.0 - math.exp(-dt / tau_s)) * (lim if d > lim else -lim if d < -lim else d)
        self.t = t
        self.n += 1

    def learn_step(self, v: float) -> None:
        """The sensor's step: the smallest change of value seen, and the floor it sets.

        >>> tr = ResidualTrack(0.003)
        >>> for i in range(40):
        ...     tr.learn_step(0.15 + 0.05 * (i % 2))     # a chlorine sensor reading in 0.05 mg/L
        >>> round(tr.quantum, 3), round(tr.floor, 4)
        (0.05, 0.0144)
        """
        change = abs(v - self.last)
        self.last = v
        if not change > 1e-9 * abs(v):                   # the same value, or the first one
            return
        self.changes += 1
        if change < self.quantum:
            self.quantum = change
        if self.changes >= QUANTUM_AFTER:
            self.floor = max(self.least, self.quantum / SQRT12)

    def restart(self, t: float, v: float) -> None:
        self.mean, self.t = v, t

