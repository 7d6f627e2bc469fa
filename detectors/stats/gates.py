"""Persistence of warning levels: a level changes only after enough readings or seconds call for it.

:class:`LevelGate` is the persistence itself; :class:`Gated` is the base of detectors whose level
passes through one (score and level of the same reading, whichever of ``score_one`` and
``learn_one`` comes first).
"""

from __future__ import annotations

from detectors.stats.cleaning import time_of, value_of
from detectors.stats.levels import LEVEL_OF
from riverwatch.model import Level
from riverwatch.state import Slotted


def readings_within(readings: int, seconds: float, interval: float) -> int:
    """The readings a level needs: ``readings``, but no more than arrive within ``seconds`` of the
    first at ``interval`` between readings (the longest persistence may hold a level back), and at
    least one. ``seconds`` 0 (or no interval known yet): ``readings``.

    >>> readings_within(2, 300.0, 60.0), readings_within(2, 300.0, 300.0), readings_within(2, 300.0, 360.0)
    (2, 2, 1)
    >>> readings_within(2, 0.0, 600.0), readings_within(3, 300.0, 0.0), readings_within(3, 300.0, 150.0)
    (2, 3, 3)
    """
    if seconds <= 0 or interval <= 0:
        return readings
    return max(1, min(readings, 1 + int(seconds / interval + 1e-9)))


class LevelGate(Slotted):
    """Persistence for a stream of candidate levels: a change needs ``n`` readings or ``s`` seconds.

    ``step(t, up, hold)`` takes the level the raw thresholds call for (``up``) and the level the
    hysteresis-relaxed thresholds still allow (``hold`` ≥ ``up``). The gate escalates to the lowest
    level seen in a run of readings above its current level once the run is long enough, and
    de-escalates to the highest ``hold`` level of a run below it in the same way.

    Examples
    --------
    >>> g = LevelGate(readings=2, seconds=0.0)
    >>> [g.step(t, up, up).name for t, up in enumerate([Level.WATCH, Level.NONE, Level.WATCH, Level.WATCH])]
    ['NONE', 'NONE', 'NONE', 'WATCH']
    """

    __slots__ = ("readings", "seconds", "current", "run_dir", "run_n", "run_t0", "run_level")

    def __init__(self, readings: int = 2, seconds: float = 0.0) -> None:
        self.readings = readings
        self.seconds = seconds
        self.current = 0
        self.run_dir = 0
        self.run_n = 0
        self.run_t0 = 0.0
        self.run_level = 0

    def peek(self, t: float, up: int, hold: int) -> tuple[int, int, int, float, int]:
        """The gate's next state ``(current, run_dir, run_n, run_t0, run_level)``, not committed."""
        cur = self.current
        if up > cur:
            direction, target = 1, up
        elif hold < cur:
            direction, target = -1, hold
        else:
            return cur, 0, 0, 0.0, 0
        if direction == self.run_dir:
            n, t0 = self.run_n + 1, self.run_t0
            run_level = min(self.run_level, target) if direction > 0 else max(self.run_level, target)
        else:
            n, t0, run_level = 1, t, target
        if n >= self.readings or (n > 1 and self.seconds > 0 and t - t0 >= self.seconds):
            return run_level, 0, 0, 0.0, 0
        return cur, direction, n, t0, run_level

    def step(self, t: float, up: int, hold: int) -> Level:
        """Advance the gate with one reading and return the level it now reports."""
        return LEVEL_OF[self.advance(t, up, hold)]

    def advance(self, t: float, up: int, hold: int) -> int:
        """:meth:`step` returning the level as a plain int (the hot path)."""
        (self.current, self.run_dir, self.run_n, self.run_t0, self.run_level) = self.peek(t, up, hold)
        return self.current


class Gated(Slotted):
    """Base for detectors whose level passes through a :class:`LevelGate`.

    Subclasses implement ``_measure(x) -> (score, up, hold) | None`` (pure) and ``_commit(x)``
    (learning), and ``_level_of(score)`` (the stateless level a score calls for). ``level(score)``
    returns the gated level of the reading just scored or learnt, whatever the call order.
    """

    __slots__ = ()

    def _key(self, x):
        """What identifies a reading for this stream (to reuse a measurement in ``learn_one``)."""
        return time_of(x), value_of(x, self.quantity)

    def score_one(self, x) -> float:
        """Score ``x`` without learning it; 0.0 when the stream's quantity is absent."""
        m = self._measure(x)
        self._memo = (self._key(x), m)
        if m is None:
            return 0.0
        score, up, hold = m
        t = time_of(x)
        self._cache = (t, score, self.gate.peek(t, up, hold)[0])
        return score

    def learn_one(self, x) -> None:
        """Learn ``x`` and advance the level gate."""
        key = self._key(x)
        memo = self._memo
        m = memo[1] if memo is not None and memo[0] == key else self._measure(x)
        self._memo = None
        if m is not None:
            score, up, hold = m
            t = time_of(x)
            self._cache = (t, score, int(self.gate.advance(t, up, hold)))
        self._commit(x)

    def level(self, score: float) -> Level:
        """The gated level of the reading just scored; stateless for any other score."""
        t, cached, gated = self._cache
        if t is not None and score == cached:
            return LEVEL_OF[gated]
        return LEVEL_OF[self._level_of(score)]
