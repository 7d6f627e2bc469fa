"""The signature of a sonde fouled or out of water: conductivity collapsing towards zero (the
electrodes in air) together with turbidity collapsing or flat-lining.

A river's conductivity comes from dissolved salts: even a flood of rain water keeps a good part of
the stream's usual conductivity (tens of µS/cm), while a probe in air reads almost nothing (0.3
µS/cm). Read as water, such readings look like a plume ending (turbidity 300 → 4 NTU) and a
dilution event at once; they are one fault. :class:`DryProbe` follows both quantities of a station
reading ``x`` (a few floats) and rates the signature:

- conductivity at most ``dry_abs`` (absolute) *and* at most ``dry_frac`` × its usual level (a
  geometric mean of the readings while the probe was wet): a stream whose water is always that
  pure (or reported in another unit) is not in air;
- turbidity collapsed to at most ``collapse_frac`` × its usual level, or flat (the same value as
  the previous reading); absent from the reading (not measured), the conductivity alone decides.

The usual levels are not learnt while the signature holds, so a probe left dry for weeks stays
flagged.

>>> p = DryProbe()
>>> for i in range(20):
...     p.learn({"conductivity": 300.0 + i, "turbidity": 40.0 + i % 3})
>>> p.ratio({"conductivity": 0.3, "turbidity": 4.0}) >= 1
True
>>> p.ratio({"conductivity": 280.0, "turbidity": 4.0}) >= 1, p.ratio({"conductivity": 0.3, "turbidity": 45.0}) >= 1
(False, False)
"""

from __future__ import annotations

import math

from detectors.stats.cleaning import value_of
from riverwatch.state import Slotted

COND, TURB = "conductivity", "turbidity"


class DryProbe(Slotted):
    """Conductivity-and-turbidity dry/fouled-probe signature (see the module docstring)."""

    __slots__ = ("dry_abs", "dry_frac", "collapse_frac", "tau", "n_c", "n_t", "c_log", "t_log", "t_prev")

    def __init__(self, dry_abs: float = 10.0, dry_frac: float = 0.05, collapse_frac: float = 0.2,
                 tau: float = 96.0) -> None:
        self.dry_abs, self.dry_frac, self.collapse_frac, self.tau = dry_abs, dry_frac, collapse_frac, tau
        self.n_c = self.n_t = 0
        self.c_log = self.t_log = 0.0
        self.t_prev = math.nan

    def ratio(self, x) -> float:
        """How clearly reading ``x`` shows the signature: ≥ 1 flagged, 0 when it does not (pure)."""
        c = value_of(x, COND)
        if c is None or self.n_c < 8:
            return 0.0
        limit = min(self.dry_abs, self.dry_frac * math.exp(self.c_log))
        if c > limit:
            return 0.0
        u = value_of(x, TURB)
        if u is not None and self.n_t >= 8:
            collapsed = u <= self.collapse_frac * math.exp(self.t_log)
            if not (collapsed or u == self.t_prev):
                return 0.0
        return 1.0 + min(9.0, limit / max(c, 1e-3) - 1.0)

    def learn(self, x) -> None:
        """Learn the usual levels from ``x`` unless it shows the signature."""
        dry = self.ratio(x) >= 1.0
        c, u = value_of(x, COND), value_of(x, TURB)
        if not dry and c is not None and c > 0:
            self.n_c += 1
            self.c_log += max(1.0 / self.tau, 1.0 / self.n_c) * (math.log(c) - self.c_log)
        if u is not None:
            if not dry and u > 0:
                self.n_t += 1
                self.t_log += max(1.0 / self.tau, 1.0 / self.n_t) * (math.log(u) - self.t_log)
            self.t_prev = u
