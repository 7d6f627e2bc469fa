"""Small shared helpers for detectors: clean inputs, hazards, level gates, baselines, scalers.

Everything here keeps its state in a few plain floats (``__slots__`` classes, small fixed
deques) so that detector state stays small when pickled for checkpoints and cheap per reading.

Examples
--------
>>> value_of({"t": 0.0, "water_level": 2.0}, "water_level")
2.0
>>> value_of({"t": 0.0, "water_level": float("nan")}, "water_level") is None
True
>>> hazard_for("discharge"), hazard_for("turbidity"), hazard_for("wind_speed")
('flood', 'water_quality', 'weather')
"""

from __future__ import annotations

import math
from collections import deque
from typing import Iterable, Mapping, Sequence

from riverwatch.model import Level

#: Scores are clamped to this magnitude so they stay finite and JSON/Influx friendly.
SCORE_LIMIT = 1.0e12

FLOOD_QUANTITIES = frozenset({"water_level", "discharge"})
WATER_QUALITY_QUANTITIES = frozenset({"turbidity", "conductivity", "ph", "redox", "chlorine",
                                      "dissolved_oxygen", "water_temperature"})
WEATHER_QUANTITIES = frozenset({"air_temperature", "dew_point", "relative_humidity", "air_pressure",
                                "wind_speed", "precipitation"})

LEVEL_ORDER = (Level.ADVISORY, Level.WATCH, Level.WARNING, Level.EMERGENCY)


class _LevelTable(dict):
    """``int -> Level`` without ``Level(i)``'s enum machinery; an unknown int raises as ``Level(i)``."""

    def __missing__(self, key):
        return Level(key)


#: ``LEVEL_OF[i] is Level(i)``, a dict lookup instead of an enum call on the hot path.
LEVEL_OF = _LevelTable({int(lvl): lvl for lvl in Level})


def value_of(x: Mapping[str, float], quantity: str | None) -> float | None:
    """The finite value of ``quantity`` in ``x``, or None when absent or not a finite number."""
    v = x.get(quantity) if quantity is not None else None
    if v is None or v.__class__ is bool:
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def time_of(x: Mapping[str, float]) -> float:
    """``x["t"]`` as a finite float (0.0 when missing or broken)."""
    t = value_of(x, "t")
    return 0.0 if t is None else t


def clamp(score: float) -> float:
    """Clamp a score into ``[-SCORE_LIMIT, SCORE_LIMIT]``; NaN becomes 0.0."""
    if score != score:
        return 0.0
    return max(-SCORE_LIMIT, min(SCORE_LIMIT, score))


def hazard_for(quantity: str | None) -> str:
    """The hazard a threshold on ``quantity`` warns of: flood, water_quality, weather or sensor."""
    if quantity in FLOOD_QUANTITIES:
        return "flood"
    if quantity in WATER_QUALITY_QUANTITIES:
        return "water_quality"
    if quantity in WEATHER_QUANTITIES:
        return "weather"
    return "sensor"


def catalog_levels(spec) -> tuple[tuple[Level, float], ...]:
    """``(level, threshold)`` pairs of a QuantitySpec, least severe level first."""
    if spec is None:
        return ()
    return tuple((lvl, spec.levels[lvl.name.lower()]) for lvl in LEVEL_ORDER
                 if lvl.name.lower() in spec.levels)


class LevelGate:
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

    def __getstate__(self):
        return (self.readings, self.seconds, self.current, self.run_dir, self.run_n, self.run_t0,
                self.run_level)

    def __setstate__(self, state) -> None:
        (self.readings, self.seconds, self.current, self.run_dir, self.run_n, self.run_t0,
         self.run_level) = state


class RobustBaseline:
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

    def __getstate__(self):
        return (self.tau_s, self.floor, self.clip, self.mean, self.dev, self.t, self.n)

    def __setstate__(self, state) -> None:
        (self.tau_s, self.floor, self.clip, self.mean, self.dev, self.t, self.n) = state


class OnlineMinMax:
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

    def __getstate__(self):
        return (self.lo, self.hi, self.forget, self.fixed, self.margin)

    def __setstate__(self, state) -> None:
        self.lo, self.hi, self.forget, self.fixed, self.margin = state


class QuantileThreshold:
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

    def __getstate__(self):
        return (self.q, tuple(self.recent), self.recent.maxlen, self.relearn_after, self.warmup,
                self.run, self.margin)

    def __setstate__(self, state) -> None:
        q, recent, maxlen, self.relearn_after, self.warmup, self.run, self.margin = state
        self.q = q
        self.recent = deque(recent, maxlen=maxlen)


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


def slope_agreement(ts: Sequence[float], vs: Sequence[float]) -> tuple[float, float]:
    """Median pairwise slope and agreement ((rising − falling pairs) / pairs, in [-1, 1]).

    >>> slope_agreement([0, 1, 2, 3], [1.0, 2.0, 2.9, 4.1])
    (1.0166666666666666, 1.0)
    """
    slope, agreement, _ = _pairwise(ts, vs)
    return slope, agreement


def _pairwise(ts: Sequence[float], vs: Sequence[float]) -> tuple[float, float, int]:
    """Median pairwise slope, agreement and the number of pairs with distinct times."""
    n = len(ts)
    slopes: list[float] = []
    up = down = 0
    for i in range(n - 1):
        ti, vi = ts[i], vs[i]
        for j in range(i + 1, n):
            dt = ts[j] - ti
            if dt > 0:
                s = (vs[j] - vi) / dt
                slopes.append(s)
                if s > 0:
                    up += 1
                elif s < 0:
                    down += 1
    if not slopes:
        return 0.0, 0.0, 0
    slopes.sort()
    m = len(slopes)
    slope = slopes[m // 2] if m % 2 else 0.5 * (slopes[m // 2 - 1] + slopes[m // 2])
    return slope, (up - down) / m, m


def theil_sen(ts: Sequence[float], vs: Sequence[float]) -> tuple[float, float, float]:
    """Robust line through points: ``(slope, value at the last t, Kendall-like agreement)``.

    The slope is the median of pairwise slopes; agreement is (rising − falling pairs) / pairs,
    in [-1, 1]: near ±1 when the trend is consistent, near 0 for noise.

    Examples
    --------
    >>> slope, last, agree = theil_sen([0, 1, 2, 3], [1.0, 2.0, 2.9, 4.1])
    >>> round(slope, 2), round(last, 2), agree
    (1.02, 4.04, 1.0)
    """
    slope, agreement, pairs = _pairwise(ts, vs)
    if not pairs:
        return 0.0, (vs[-1] if len(vs) else 0.0), 0.0
    t_last = ts[-1]
    offsets = sorted(v - slope * (t - t_last) for t, v in zip(ts, vs))
    k = len(offsets)
    last = offsets[k // 2] if k % 2 else 0.5 * (offsets[k // 2 - 1] + offsets[k // 2])
    return slope, last, agreement


def median(values: Iterable[float]) -> float:
    """Median of a few values (0.0 when empty)."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return 0.0
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


class Window:
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

    def __getstate__(self):
        return (tuple(self.ts), tuple(self.vs), self.ts.maxlen, self.span_s)

    def __setstate__(self, state) -> None:
        ts, vs, size, self.span_s = state
        self.ts = deque(ts, maxlen=size)
        self.vs = deque(vs, maxlen=size)


class Slotted:
    """Pickles a slotted object as the tuple of its ``__slots__`` values (compact checkpoints).

    Only the most derived class may declare non-empty ``__slots__``.

    >>> class Point(Slotted):
    ...     __slots__ = ("x", "y")
    >>> p = Point(); p.x, p.y = 1.0, 2.0
    >>> p.__getstate__()
    (1.0, 2.0)
    >>> q = Point.__new__(Point); q.__setstate__((3.0, 4.0)); (q.x, q.y)
    (3.0, 4.0)

    A slot added later goes at the end of ``__slots__`` with its value for older checkpoints:

    >>> class Point3(Slotted):
    ...     __slots__ = ("x", "y", "z")
    ...     added_slots = {"z": 0.0}
    >>> r = Point3.__new__(Point3); r.__setstate__((3.0, 4.0)); (r.x, r.y, r.z)
    (3.0, 4.0, 0.0)
    """

    __slots__ = ()
    #: Slots added after checkpoints were written (always at the end of ``__slots__``) and the
    #: value they take when an older, shorter checkpoint is restored.
    added_slots: dict = {}

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, k) for k in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for k, v in zip(self.__slots__, state):
            setattr(self, k, v)
        for k in self.__slots__[len(state):]:
            if k in self.added_slots:
                setattr(self, k, self.added_slots[k])


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
