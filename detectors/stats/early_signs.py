"""Early signs of a building departure: a robust trend of recent residuals, and a level gate that
lets well-corroborated evidence through at once.

Used by :mod:`detectors.quality_residual`. A plume builds over several readings before it peaks;
its residuals rise *consistently* (most pairs of recent readings rise), a lone one-reading blip
does not (one point against many: its pairwise slopes are mostly zero).
"""

from __future__ import annotations

from typing import Sequence

from detectors.stats.gates import LevelGate
from detectors.stats.trend import slope_agreement
from riverwatch.state import slot_names

#: Readings of residual history a trend is judged on (the reading in hand included).
TREND_READINGS = 8
#: Least agreement ((rising − falling pairs) / pairs) of a trend that counts as building.
TREND_AGREEMENT = 0.6
#: Largest share of the window's change that one reading's change may make in a steady trend.
STEADY = 0.7


def projected(recent: Sequence[float], z: float, horizon: float) -> float:
    """``|z|`` projected ``horizon`` readings ahead along the robust trend of ``recent`` signed
    residuals (oldest first) and ``z``; ``|z|`` itself unless the residuals move away from the
    baseline consistently (agreement ≥ :data:`TREND_AGREEMENT`, Theil–Sen slope away from 0) and
    steadily (:func:`steady`: a step is not a building plume, however consistent its pairs look).

    Examples
    --------
    >>> round(projected([1.0, 2.2, 2.8, 4.1, 5.0], 6.2, 3.0), 1)     # building: about +1 a reading
    9.3
    >>> projected([0.1, -0.2, 0.0, 0.1, -0.1], 9.0, 3.0)              # a lone blip: no trend
    9.0
    >>> projected([0.1, 0.0, 0.1, 9.0, 9.2], 9.1, 3.0)                # a step: no trend either
    9.1
    >>> round(projected([-1.0, -2.0, -3.1, -4.0, -5.2], -6.0, 2.0), 1)   # falling: |z| grows too
    8.0
    """
    n = len(recent)
    if n < 2 or horizon <= 0.0:
        return abs(z)
    ts = range(n + 1)
    slope, agreement = slope_agreement(ts, [*recent, z])
    if z < 0.0:
        slope, agreement = -slope, -agreement
    if slope > 0.0 and agreement >= TREND_AGREEMENT and steady([*recent, z]):
        return abs(z) + horizon * slope
    return abs(z)


def steady(zs: Sequence[float]) -> bool:
    """Whether no single reading's change makes more than :data:`STEADY` of the window's change.

    >>> steady([1.0, 2.2, 2.8, 4.1, 5.0, 6.2]), steady([0.1, 0.0, 0.1, 9.0, 9.2, 9.1])
    (True, False)
    """
    rise = abs(zs[-1] - zs[0])
    return all(abs(b - a) <= STEADY * rise for a, b in zip(zs, zs[1:]))


def geometric_mean(departures: Sequence[tuple[float, int, float]]) -> float:
    """Geometric mean of the ``|z|`` of ``departures`` (``(|z|, index, z)``): several quantities
    far out together, one far out cannot make up for the other barely departing.

    >>> round(geometric_mean([(40.0, 0, -40.0), (10.0, 1, 10.0)]), 6)
    20.0
    """
    product = 1.0
    for az, _, _ in departures:
        product *= az
    return product ** (1.0 / len(departures))


def not_only(departures: Sequence[tuple[float, int, float]], flagged: Sequence[bool]) -> bool:
    """Whether one of ``departures`` (``(|z|, index, z)``) is of a quantity not ``flagged`` (by index):
    an early decision must not rest on flow-sensitive quantities alone (turbidity and conductivity
    jump together at a hydraulic change as readily as at an event).

    >>> flagged = (False, True, True)                 # e.g. chlorine; turbidity, conductivity
    >>> not_only([(30.0, 1, 30.0), (12.0, 2, -12.0)], flagged), not_only([(30.0, 1, 30.0), (9.0, 0, 9.0)], flagged)
    (False, True)
    """
    return any(not flagged[j] for _, j, _ in departures)


class EarlyGate(LevelGate):
    """A :class:`~detectors.stats.gates.LevelGate` whose escalation can be let through at once:
    ``urgent`` (set for the reading in hand, not saved) is the highest level that needs no
    persistence, for evidence that is already corroborated (several quantities at once, or a trend
    that several readings agree on).

    >>> g = EarlyGate(readings=2)
    >>> g.advance(0.0, 1, 1), g.advance(1.0, 0, 0)
    (0, 0)
    >>> g.urgent = 1
    >>> g.advance(2.0, 2, 2)                      # level 1 at once, level 2 still needs two readings
    1
    """

    __slots__ = ("urgent",)
    slot_defaults = {"urgent": 0}
    transient_slots = frozenset({"urgent"})

    def __init__(self, readings: int = 2, seconds: float = 0.0) -> None:
        super().__init__(readings, seconds)
        self.urgent = 0

    @classmethod
    def of(cls, gate: LevelGate) -> EarlyGate:
        """``gate`` as an :class:`EarlyGate` in the same state (a checkpoint's plain gate)."""
        if isinstance(gate, cls):
            return gate
        out = cls(gate.readings, gate.seconds)
        for name in slot_names(LevelGate):
            setattr(out, name, getattr(gate, name))
        return out

    def peek(self, t: float, up: int, hold: int) -> tuple[int, int, int, float, int]:
        state = super().peek(t, up, hold)
        now = min(up, self.urgent)
        if now > state[0]:
            return now, 0, 0, 0.0, 0
        return state
