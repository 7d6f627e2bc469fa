"""Time windows of a stream: its last points, and the usual interval between its readings."""

from __future__ import annotations

from collections import deque

from riverwatch.state import Slotted


class Window(Slotted):
    """The last ``size`` ``(t, v)`` points of a stream within ``span_s`` seconds, at least ``step_s`` apart.

    A stream read more often than ``step_s`` is thinned: a reading closer than that to the last point
    kept is not stored (it is still the stream's :attr:`last` reading), so that ``size`` points span
    the same time whether a gauge reports every minute or every quarter hour (see :func:`thinning_step`).

    Examples
    --------
    >>> w = Window(size=3, span_s=100.0)
    >>> for t in range(5):
    ...     w.add(t * 10.0, float(t))
    >>> w.points(50.0, 5.0)
    ([20.0, 30.0, 40.0, 50.0], [2.0, 3.0, 4.0, 5.0])
    >>> w = Window(size=3, span_s=100.0, step_s=20.0)
    >>> for t in range(5):
    ...     w.add(t * 10.0, float(t))
    >>> w.points(50.0, 5.0), w.last
    (([0.0, 20.0, 40.0, 50.0], [0.0, 2.0, 4.0, 5.0]), (40.0, 4.0))
    """

    __slots__ = ("ts", "vs", "span_s", "step_s", "last", "size")
    slot_defaults = {"step_s": 0.0, "last": None, "size": None}

    def __init__(self, size: int, span_s: float, step_s: float = 0.0) -> None:
        self.size = size
        self.ts: list[float] = []             # plain lists: a deque costs 760 B of heap even when empty
        self.vs: list[float] = []
        self.span_s = span_s
        self.step_s = step_s
        self.last: tuple[float, float] | None = None   # the latest reading, stored or not

    def add(self, t: float, v: float) -> None:
        """Take a reading: the latest, and stored unless within ``step_s`` of the last point stored
        (a reading not after the latest is dropped)."""
        last = self.last
        if last is not None and t <= last[0]:
            return
        self.last = (t, v)
        ts, vs = self.ts, self.vs
        if ts and t - ts[-1] < self.step_s:
            return
        ts.append(t)
        vs.append(v)
        if len(ts) > self.size:
            del ts[0], vs[0]

    @classmethod
    def for_trend(cls, points: int, window_s: float, min_span_s: float) -> Window:
        """The window of a trend through ``points`` readings (the one in hand included) within
        ``window_s``, thinned so that they span ``min_span_s`` at any cadence.

        >>> Window.for_trend(6, 7200.0, 1200.0).step_s
        300.0
        """
        return cls(points - 1, window_s, thinning_step(min_span_s, points - 1))

    def thin_for(self, min_span_s: float) -> None:
        """Thin a window restored from before thinning (``step_s`` 0) as :meth:`for_trend` would."""
        if not self.step_s:
            self.step_s = thinning_step(min_span_s, self.size)

    def points(self, t: float, v: float) -> tuple[list[float], list[float]]:
        """The stored points within ``span_s`` before ``t``, plus ``(t, v)`` itself."""
        lo = t - self.span_s
        ts, vs = [], []
        for a, b in zip(self.ts, self.vs):
            if lo <= a < t:
                ts.append(a)
                vs.append(b)
        ts.append(t)
        vs.append(v)
        return ts, vs

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        if isinstance(self.ts, deque):           # a state from before the lists: its size was the deques'
            self.size = self.ts.maxlen
            self.ts, self.vs = list(self.ts), list(self.vs)
        if self.last is None and self.ts:       # a state from before thinning: its last point was the latest
            self.last = (self.ts[-1], self.vs[-1])


def thinning_step(min_span_s: float, size: int) -> float:
    """The ``step_s`` at which ``size`` stored points and the reading in hand span ``min_span_s``
    at any cadence; a stream read at least that far apart is never thinned.

    >>> thinning_step(1200.0, 5)     # 5 points and the reading in hand: 20 min at 5 min or faster
    300.0
    """
    return min_span_s / (size - 1) if size > 1 else 0.0


def usual_interval(interval: float, dt: float, gap: bool, alpha: float = 0.1) -> float:
    """The usual seconds between a stream's readings after one more interval ``dt``: an EWMA of the
    intervals that were not gaps, starting at the first one (``interval`` 0 = none seen yet).

    >>> usual_interval(0.0, 600.0, gap=False), usual_interval(600.0, 700.0, gap=False)
    (600.0, 610.0)
    >>> usual_interval(600.0, 86400.0, gap=True)
    600.0
    """
    if interval == 0.0:
        return dt
    return interval if gap else interval + alpha * (dt - interval)


def shortest_interval(interval: float, dt: float, rise: float = 1.01) -> float:
    """The cadence as the shortest interval lately: ``dt`` when shorter (or none seen yet, ``interval``
    0), else at most ``rise`` × ``interval``. Unlike :func:`usual_interval` a missing reading or a gap
    moves it by 1 % only, and the next regular interval restores it exactly; a slower cadence is
    taken on within about 160 readings.

    >>> shortest_interval(0.0, 60.0), shortest_interval(60.0, 120.0), shortest_interval(60.6, 60.0)
    (60.0, 60.6, 60.0)
    """
    return dt if not interval or dt < interval else min(dt, rise * interval)
