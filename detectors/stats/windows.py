"""Time windows of a stream: its last points, and the usual interval between its readings."""

from __future__ import annotations

from collections import deque

from riverwatch.state import Slotted


class Window(Slotted):
    """The last ``size`` ``(t, v)`` points of a stream within ``span_s`` seconds (two small deques).

    Examples
    --------
    >>> w = Window(size=3, span_s=100.0)
    >>> for t in range(5):
    ...     w.add(t * 10.0, float(t))
    >>> w.points(50.0, 5.0)
    ([20.0, 30.0, 40.0, 50.0], [2.0, 3.0, 4.0, 5.0])
    """

    __slots__ = ("ts", "vs", "span_s")

    def __init__(self, size: int, span_s: float) -> None:
        self.ts: deque[float] = deque(maxlen=size)
        self.vs: deque[float] = deque(maxlen=size)
        self.span_s = span_s

    def add(self, t: float, v: float) -> None:
        """Append a point (a point not after the last one replaces nothing and is dropped)."""
        if self.ts and t <= self.ts[-1]:
            return
        self.ts.append(t)
        self.vs.append(v)

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
