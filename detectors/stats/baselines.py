"""What is normal, learnt online: a robust location and scale, a forgetting range, a score quantile.

Each keeps a few floats (or one small deque) and pickles through :class:`riverwatch.state.Slotted`.
"""

from __future__ import annotations

import math
from collections import deque

from detectors.stats.trend import median
from riverwatch.state import Slotted


class RobustBaseline(Slotted):
    """EWMA location and EWMA mean absolute deviation with winsorised updates, time-based decay.

    ``z(v)`` is the robust z-score of ``v`` against the baseline; outliers move the baseline only
    by ``clip`` scales, so an event does not teach itself away in a few readings.

    Examples
    --------
    >>> b = RobustBaseline(tau_s=3600.0, floor=0.01)
    >>> for i in range(50):
    ...     b.update(i * 60.0, 10.0 + (0.1 if i % 2 else -0.1))
    >>> abs(b.z(10.0)) < 0.5, b.z(12.0) > 10
    (True, True)
    """

    __slots__ = ("tau_s", "floor", "clip", "mean", "dev", "t", "n")

    def __init__(self, tau_s: float, floor: float, clip: float = 3.0) -> None:
        self.tau_s = tau_s
        self.floor = floor
        self.clip = clip
        self.mean = 0.0
        self.dev = 0.0
        self.t = 0.0
        self.n = 0

    def scale(self) -> float:
        """Robust standard deviation estimate (1.25 × mean absolute deviation, floored)."""
        return max(1.2533 * self.dev, self.floor)

    def z(self, v: float) -> float:
        """Robust z-score of ``v`` (0.0 before the first update)."""
        if not self.n:
            return 0.0
        return (v - self.mean) / self.scale()

    def update(self, t: float, v: float) -> None:
        """Learn ``v`` observed at time ``t`` (seconds)."""
        if not self.n:
            self.mean, self.dev, self.t, self.n = v, 0.0, t, 1
            return
        dt = t - self.t
        alpha = 1.0 - math.exp(-dt / self.tau_s) if dt > 0 else 1.0 / max(2.0, self.tau_s / 60.0)
        alpha = max(alpha, 1.0 / (self.n + 1)) if self.n < 20 else alpha
        scale = self.scale()
        d = v - self.mean
        lim = self.clip * scale
        dc = lim if d > lim else -lim if d < -lim else d
        self.mean += alpha * dc
        self.dev += alpha * (min(abs(d), 2.0 * lim) - self.dev)
        self.t = max(self.t, t)
        self.n += 1


class OnlineMinMax(Slotted):
    """Online min-max scaler to [0, 1] whose range slowly forgets (for HalfSpaceTrees inputs).

    ``fixed`` pins the range (e.g. a quantity's physical range); otherwise the range is learnt
    and relaxes towards the recent values at rate ``forget`` per reading. ``margin`` (a fraction
    of the range, each side) leaves empty space around the values seen so far, where isolation
    methods such as half-space trees find new extremes.

    Examples
    --------
    >>> s = OnlineMinMax()
    >>> for v in (0.0, 10.0, 5.0):
    ...     s.learn(v)
    >>> s.scale(5.0), s.scale(20.0)
    (0.5, 1.0)
    >>> m = OnlineMinMax(margin=1.0)
    >>> for v in (0.0, 10.0):
    ...     m.learn(v)
    >>> round(m.scale(5.0), 3), round(m.scale(10.0), 3)
    (0.5, 0.667)
    """

    __slots__ = ("lo", "hi", "forget", "fixed", "margin")

    def __init__(self, fixed: tuple[float, float] | None = None, forget: float = 0.0,
                 margin: float = 0.0) -> None:
        self.fixed = fixed is not None
        self.lo, self.hi = fixed if fixed is not None else (math.inf, -math.inf)
        self.forget = forget
        self.margin = margin

    def scale(self, v: float) -> float:
        """``v`` mapped into [0, 1] (clipped); 0.5 while the range is still empty."""
        span = self.hi - self.lo
        if not span > 0 or not math.isfinite(span):
            return 0.5
        lo = self.lo - self.margin * span
        return min(1.0, max(0.0, (v - lo) / (span * (1.0 + 2.0 * self.margin))))

    def learn(self, v: float) -> None:
        """Widen the range to include ``v`` (unless fixed) and let it relax slightly."""
        if self.fixed:
            return
        if self.forget and self.hi > self.lo:
            shrink = self.forget * (self.hi - self.lo)
            self.lo, self.hi = self.lo + shrink, self.hi - shrink
        self.lo = min(self.lo, v)
        self.hi = max(self.hi, v)


class QuantileThreshold(Slotted):
    """A score thresholder at a running quantile that re-learns after level shifts.

    river's ``ThresholdFilter`` fixes its idea of "normal" once; here the recent ``window`` scores
    define the quantile, and when ``relearn_after`` consecutive scores exceed the threshold (a new
    normal, not an anomaly) the window is reset to those scores.

    Examples
    --------
    >>> q = QuantileThreshold(q=0.9, window=50, relearn_after=10, warmup=10)
    >>> for i in range(50):
    ...     q.learn(0.1 + 0.001 * (i % 7))
    >>> q.exceeds(0.9), q.exceeds(0.1)
    (True, False)
    >>> for i in range(30):
    ...     q.learn(0.8 + 0.001 * (i % 7))
    >>> q.exceeds(0.75), q.exceeds(0.95)
    (False, True)
    """

    __slots__ = ("q", "recent", "relearn_after", "warmup", "run", "margin")

    def __init__(self, q: float = 0.99, window: int = 200, relearn_after: int = 20, warmup: int = 50,
                 margin: float = 1.0) -> None:
        self.q = q
        self.recent: deque[float] = deque(maxlen=window)
        self.relearn_after = relearn_after
        self.warmup = warmup
        self.run = 0
        self.margin = margin

    def threshold(self) -> float:
        """The current threshold (infinite during warm-up)."""
        if len(self.recent) < self.warmup:
            return math.inf
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(self.q * len(ordered)))] * self.margin

    def exceeds(self, score: float) -> bool:
        """Whether ``score`` lies above the current threshold."""
        return score > self.threshold()

    def learn(self, score: float) -> None:
        """Add ``score`` to the window; reset the window after a run of exceedances."""
        if self.exceeds(score):
            self.run += 1
            if self.run >= self.relearn_after:
                tail = list(self.recent)[-self.run + 1:] if self.run > 1 else []
                self.recent.clear()
                self.recent.extend(tail)
                self.run = 0
        else:
            self.run = 0
        self.recent.append(score)


class DailyLow(Slotted):
    """The lowest value of the last ``days`` calendar days (UTC): a low-water baseline that does not
    creep up during a long rise (it moves up only once the rise is ``days`` old) and falls at once.

    A few floats: one ``(day, low)`` pair per day kept, and the low of the days before today.

    Examples
    --------
    >>> b = DailyLow(days=3)
    >>> for h in range(5 * 24):                 # a river rising 1 cm per hour for five days
    ...     b.update(h * 3600.0, 1.0 + 0.01 * h)
    >>> round(b.value(5 * 86400.0, 2.2), 2)    # the low of the last three days, not yesterday's
    1.72
    >>> b.value(5 * 86400.0, 0.5)              # a value below it is the new low
    0.5
    """

    __slots__ = ("days", "lows", "before")

    def __init__(self, days: int) -> None:
        self.days = max(int(days), 1)
        self.lows: list[tuple[int, float]] = []     # (UTC day number, lowest value that day), oldest first
        self.before = math.inf                      # lowest of the kept days before the last one

    def value(self, t: float, v: float) -> float:
        """The baseline once ``v`` at ``t`` is counted (pure)."""
        day = int(t // 86400.0)
        if self.lows and self.lows[-1][0] == day:   # the usual case: another reading of today
            return min(self.before, self.lows[-1][1], v)
        first = day - self.days + 1
        return min([low for d, low in self.lows if d >= first] + [v])

    def mark_outage(self) -> None:
        """The stream was silent: the typical from before stands until two new days have completed
        (a rise on the gauge's return is not judged by itself)."""
        self.carry = True

    def update(self, t: float, v: float) -> None:
        """Count ``v`` observed at ``t`` (seconds); days older than the window are forgotten."""
        day = int(t // 86400.0)
        if self.lows and self.lows[-1][0] == day:
            if v < self.lows[-1][1]:
                self.lows[-1] = (day, v)
        elif not self.lows or day > self.lows[-1][0]:
            self.lows = [(d, low) for d, low in self.lows if d > day - self.days] + [(day, v)]
            self.before = min((low for _, low in self.lows[:-1]), default=math.inf)


class DailyTypical(Slotted):
    """The median over the last ``days`` calendar days (UTC) of each completed day's mean value (the
    day in progress too until two days have completed): a typical size that a flood or a storm
    lasting less than half the window does not move, and that today's rise does not move at all.

    Examples
    --------
    >>> s = DailyTypical(days=7)
    >>> for h in range(7 * 24):                 # 5 cm on ordinary days, 2 m through a two-day flood
    ...     s.update(h * 3600.0, 2.0 if 48 <= h < 96 else 0.05)
    >>> round(s.value(), 3)
    0.05
    >>> s.update(7 * 86400.0, 3.0); round(s.value(), 3)     # the day in progress does not count yet
    0.05
    >>> s.mark_outage(); s.update(30 * 86400.0, 3.0); round(s.value(), 3)  # back after 3 silent weeks
    0.05
    """

    __slots__ = ("days", "sums", "done", "carry")
    slot_defaults = {"carry": False}

    def __init__(self, days: int) -> None:
        self.days = max(int(days), 1)
        self.sums: list[tuple[int, float, int]] = []   # (UTC day number, sum, count), oldest first
        self.done: float | None = None                 # median of the completed days' means, once two are
        self.carry = False                             # an outage: keep ``done`` until two new days complete

    def value(self, default: float = 0.0) -> float:
        """The median of the completed days' means (``default`` before any value)."""
        if self.done is not None:
            return self.done
        if not self.sums:
            return default
        return median(total / n for _, total, n in self.sums)

    def mark_outage(self) -> None:
        """The stream was silent: the typical from before stands until two new days have completed
        (a rise on the gauge's return is not judged by itself)."""
        self.carry = True

    def update(self, t: float, v: float) -> None:
        """Count ``v`` observed at ``t`` (seconds); days older than the window are forgotten."""
        day = int(t // 86400.0)
        if self.sums and self.sums[-1][0] == day:
            _, total, n = self.sums[-1]
            self.sums[-1] = (day, total + v, n + 1)
        elif not self.sums or day > self.sums[-1][0]:
            self.sums = [s for s in self.sums if s[0] > day - self.days] + [(day, v, 1)]
            done = self.sums[:-1]
            if len(done) >= 2:
                self.done, self.carry = median(total / n for _, total, n in done), False
            elif not self.carry:
                self.done = None
