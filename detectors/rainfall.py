"""Rainfall: heavy-rain warnings on rolling accumulations (mm in 1 h, 6 h, 24 h), as met services warn.

``precipitation`` is the amount fallen since the station's previous message (the MQTT contract), so
one reading says little; this detector keeps the rain of the last ``windows_h`` hours and warns when
any window's accumulation reaches that window's level. The level is the highest any window reaches.

Levels
    The catalog's precipitation levels are **mm in one hour** (mm/h); ``hourly_levels`` overrides
    them and :data:`DEFAULT_HOURLY_LEVELS` stands in when neither is given. A window of ``h`` hours
    gets the hourly levels × ``h ** duration_exponent`` (0.22: 6 h × 1.48, 24 h × 2.01, close to the
    German weather service's heavy-rain criteria 15/25/40 mm in 1 h, 20/35/60 in 6 h, 30/50/80 in
    24 h). ``levels_mm`` sets one window's levels outright.
Sums
    Each window is a ring of ``buckets`` + 1 equal time buckets (a 1 h window: 5-minute buckets). A
    reading's amount is spread evenly over its interval since the previous reading, so irregular
    intervals give the same sums; the oldest bucket counts by the share of it inside the window.
    State is a few dozen floats per station, whatever the reading interval.
Times
    A reading not newer than the newest one seen (duplicate, out of order) is ignored: it scores
    the current accumulation and changes nothing, so redelivered rain is never counted twice.
Gaps
    Rain in a gap (more than ``max_gap_s`` and more than ``gap_intervals`` of the station's usual
    interval between readings — lost messages, not an hourly station's normal hour —, and the
    time before the first reading) is *unknown*, not zero. The amount that ends a gap is, by the contract, what fell
    during it: it is spread over the gap. Accumulations are then lower bounds, good enough to
    raise or escalate a warning, but not proof the rain has stopped: the level is not lowered
    until the shortest window lies wholly after the gap. Evidence says whether its window is
    complete.

The score is level-equivalent: 1.0 at the advisory level of some window, 2.0 at watch, 3.0 at
warning, 4.0 at emergency (linear in between). A level needs ``persist_readings`` readings beyond
it; a window holds a level it reached until its accumulation is ``hysteresis`` (a fraction of the
threshold) below it, and the level falls back once no window holds it.

Examples
--------
>>> from detectors.base import example_station
>>> levels = {"advisory": 10.0, "watch": 15.0, "warning": 25.0, "emergency": 40.0}
>>> st = example_station({"precipitation": {"levels": levels}}, kind="weather")
>>> det = make(st, "precipitation", Params())
>>> for i in range(1, 13):      # a 30 mm/h downpour, 5-minute readings of 2.5 mm
...     x = {"t": i * 300.0, "precipitation": 2.5}
...     s = det.score_one(x); det.learn_one(x)
...     if i % 3 == 0:
...         print(i * 5, "min", round(s, 2), det.level(s).name)
15 min 0.75 NONE
30 min 2.0 ADVISORY
45 min 2.75 WATCH
60 min 3.33 WARNING
>>> f = det.evidence(x, s)
>>> f.value, f.threshold, dict(f.details)["window"]
(30.0, 25.0, '1 h')
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from detectors.base import Finding, register
from detectors.stats.cleaning import clamp, time_of, value_of
from detectors.stats.gates import LevelGate
from detectors.stats.levels import LEVEL_OF, LEVEL_ORDER, catalog_levels
from detectors.stats.windows import usual_interval
from riverwatch.catalog import Station
from riverwatch.errors import ConfigError
from riverwatch.state import Slotted

QUANTITY = "precipitation"
HOUR_S = 3600.0
#: mm in one hour for advisory, watch, warning, emergency when neither catalog nor parameters say.
DEFAULT_HOURLY_LEVELS = (10.0, 15.0, 25.0, 40.0)

Levels = tuple[float, float, float, float]
Ladder = tuple[tuple[int, float], ...]


def _increasing(levels: tuple[float, ...], name: str) -> tuple[float, ...]:
    if any(not (v > 0 and math.isfinite(v)) for v in levels) or list(levels) != sorted(set(levels)):
        raise ValueError(f"{name}: must be positive and strictly increasing, got {levels}")
    return levels


class Params(BaseModel):
    """Parameters of ``rainfall``.

    windows_h
        Accumulation windows in hours (one to four, increasing).
    hourly_levels
        mm in 1 h for advisory … emergency, instead of the catalog's precipitation levels.
    levels_mm
        Levels (mm) of one window, keyed by its length in hours, instead of the derived ones.
    duration_exponent
        A window of ``h`` hours gets the hourly levels × ``h ** duration_exponent``.
    buckets
        Time buckets per window (resolution = window / buckets).
    max_gap_s, gap_intervals
        An interval longer than both ``max_gap_s`` and ``gap_intervals`` × the usual interval
        (an EWMA of the intervals that were not gaps) is a gap: its rain is unknown.
    hysteresis
        Fraction of a threshold every window must fall below it before the level is lowered.
    persist_readings, persist_s
        Persistence of a level (see level_threshold).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    windows_h: tuple[float, ...] = (1.0, 6.0, 24.0)
    hourly_levels: Levels | None = None
    levels_mm: dict[float, Levels] = Field(default_factory=dict)
    duration_exponent: float = Field(0.22, ge=0.0, le=1.0)
    buckets: int = Field(12, ge=2, le=24)
    max_gap_s: float = Field(1800.0, gt=0)
    gap_intervals: float = Field(4.0, gt=1)
    hysteresis: float = Field(0.1, ge=0.0, lt=1.0)
    persist_readings: int = Field(2, ge=1)
    persist_s: float = Field(0.0, ge=0.0)

    @field_validator("windows_h")
    @classmethod
    def _windows(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not 1 <= len(value) <= 4:
            raise ValueError("give one to four windows")
        return _increasing(value, "windows_h")

    @field_validator("hourly_levels")
    @classmethod
    def _hourly(cls, value: Levels | None) -> Levels | None:
        return value if value is None else _increasing(value, "hourly_levels")

    @field_validator("levels_mm")
    @classmethod
    def _known_windows(cls, value: dict[float, Levels], info: ValidationInfo) -> dict[float, Levels]:
        windows = info.data.get("windows_h", ())
        for hours, levels in value.items():
            if hours not in windows:
                raise ValueError(f"{hours:g} h is not one of windows_h {windows}")
            _increasing(levels, f"{hours:g} h")
        return value


class RainWindow(Slotted):
    """Rain of the last ``span`` seconds in a ring of equal buckets (bucket ``k`` is [k·w, (k+1)·w)).

    Examples
    --------
    >>> w = RainWindow(3600.0, 12)
    >>> for i in range(1, 25):               # 1 mm every 5 minutes for two hours
    ...     w.add(300.0 * (i - 1), 300.0 * i, 1.0)
    >>> w.total(7200.0), w.total(7350.0), w.total(7350.0, 7200.0, 3.0)
    (12.0, 11.5, 14.5)
    """

    __slots__ = ("span", "width", "head", "sums")

    def __init__(self, span: float, buckets: int) -> None:
        self.span = span
        self.width = span / buckets
        self.head: int | None = None
        self.sums = [0.0] * (buckets + 1)

    def _parts(self, t0: float | None, t1: float, amount: float):
        """``(bucket, share)`` of ``amount`` spread evenly over ``(t0, t1]`` (all at ``t1`` without t0)."""
        w, n = self.width, len(self.sums)
        k1 = math.floor(t1 / w)
        if t0 is None or not t1 > t0:
            yield k1, amount
            return
        dt = t1 - t0
        for k in range(max(math.floor(t0 / w), k1 - n + 1), k1 + 1):
            overlap = min(t1, (k + 1) * w) - max(t0, k * w)
            if overlap > 0:
                yield k, amount * (overlap / dt)

    def total(self, t1: float, t0: float | None = None, amount: float = 0.0) -> float:
        """Rain in ``(t1 − span, t1]``, with ``amount`` over ``(t0, t1]`` added as :meth:`add` would."""
        w, n, sums = self.width, len(self.sums), self.sums
        k1 = math.floor(t1 / w)
        oldest = k1 - n + 1
        frac = ((oldest + 1) * w - (t1 - self.span)) / w
        total = 0.0
        if self.head is not None:
            for k in range(max(oldest, self.head - n + 1), min(self.head, k1) + 1):
                total += sums[k % n] * (frac if k == oldest else 1.0)
        if amount:
            for k, part in self._parts(t0, t1, amount):
                total += part * (frac if k == oldest else 1.0)
        return total

    def add(self, t0: float | None, t1: float, amount: float) -> None:
        """Store ``amount`` fallen over ``(t0, t1]`` (``t1`` not before any earlier ``t1``)."""
        n, sums = len(self.sums), self.sums
        k1 = math.floor(t1 / self.width)
        if self.head is None or k1 - self.head >= n:
            sums[:] = [0.0] * n
        else:
            for k in range(self.head + 1, k1 + 1):
                sums[k % n] = 0.0
        self.head = k1 if self.head is None else max(self.head, k1)
        if amount:
            for k, part in self._parts(t0, t1, amount):
                if k > k1 - n:
                    sums[k % n] += part


def ladder_value(total: float, ladder: Ladder) -> float:
    """Level-equivalent of ``total`` on ``ladder`` ((level, threshold), …): level ``L`` at its threshold.

    >>> ladder = ((1, 10.0), (2, 15.0), (3, 25.0), (4, 40.0))
    >>> ladder_value(5.0, ladder), ladder_value(20.0, ladder), ladder_value(80.0, ladder)
    (0.5, 2.5, 8.0)
    """
    prev_level, prev_th = 0, 0.0
    for level, th in ladder:
        if total < th:
            return prev_level + (level - prev_level) * (total - prev_th) / (th - prev_th)
        prev_level, prev_th = level, th
    return prev_level * total / prev_th


def window_label(hours: float) -> str:
    """A window length as people write it.

    >>> window_label(1.0), window_label(24.0), window_label(0.5)
    ('1 h', '24 h', '30 min')
    """
    return f"{hours:g} h" if hours >= 1 else f"{hours * 60:g} min"


class Rainfall(Slotted):
    """Rolling-accumulation rain detector for one station (see the module docstring)."""

    __slots__ = ("hours", "windows", "ladders", "level_set", "hyst", "max_gap_s", "last_t",
                 "unknown_until", "held", "gate", "_cache", "_memo", "gap_intervals", "interval")

    def __init__(self, ladders: tuple[Ladder, ...], params: Params) -> None:
        self.hours = params.windows_h
        self.windows = tuple(RainWindow(h * HOUR_S, params.buckets) for h in params.windows_h)
        self.ladders = ladders
        self.level_set = tuple(sorted({lvl for ladder in ladders for lvl, _ in ladder}))
        self.hyst = params.hysteresis
        self.max_gap_s = params.max_gap_s
        self.gap_intervals = params.gap_intervals
        self.interval = 0.0              # usual seconds between readings (EWMA of non-gap intervals)
        self.last_t: float | None = None
        self.unknown_until = -math.inf   # end of the latest gap: rain before it is unknown
        self.held = (0,) * len(self.windows)  # level each window holds (its own hysteresis)
        self.gate = LevelGate(params.persist_readings, params.persist_s)
        self._cache = (None, 0.0, 0)     # (t, score, gated level) of the last reading scored
        self._memo = None

    # -- measuring (pure) ------------------------------------------------------------------------
    def _stale(self, t: float) -> bool:
        return self.last_t is not None and t <= self.last_t

    def _totals(self, t: float, v: float) -> tuple[float, ...]:
        """Accumulation per window at ``t`` with ``v`` added (the state's own at a stale ``t``)."""
        if self._stale(t):
            return tuple(w.total(self.last_t) for w in self.windows)
        return tuple(w.total(t, self.last_t, v) for w in self.windows)

    def _gap_end(self, t: float) -> float:
        """End of the latest gap once ``t`` is learnt."""
        if self.last_t is None or self._is_gap(t - self.last_t):
            return t
        return self.unknown_until

    def _is_gap(self, dt: float) -> bool:
        return dt > self.max_gap_s and dt > self.gap_intervals * self.interval

    def _measure(self, t: float, v: float | None):
        """``(score, up, hold, held)`` for rain ``v`` at ``t``; None without a rain amount.

        A window holds a level it reached until its total falls ``hysteresis`` below that level's
        threshold (``held``, per window); ``hold`` is the highest level any window holds.
        """
        if v is None:
            return None
        score = 0.0
        ups, held = [], []
        for total, ladder, before in zip(self._totals(t, v), self.ladders, self.held):
            score = max(score, ladder_value(total, ladder))
            up = relaxed = 0
            for lvl, th in ladder:
                if total >= th:
                    up = lvl
                if total >= th * (1.0 - self.hyst):
                    relaxed = lvl
            ups.append(up)
            held.append(max(up, min(before, relaxed)))
        hold = max(held)
        if t < self._gap_end(t) + self.windows[0].span:  # rain in the gap unknown: do not lower
            hold = max(hold, self.gate.current)
        return clamp(score), max(ups), hold, tuple(held)

    def _level_of(self, score: float) -> int:
        return max((lvl for lvl in self.level_set if lvl <= score), default=0)

    # -- the river protocol ----------------------------------------------------------------------
    def _tv(self, x) -> tuple[float, float | None]:
        v = value_of(x, QUANTITY)
        return time_of(x), (v if v is not None and v >= 0 else None)

    def score_one(self, x) -> float:
        """Level-equivalent accumulation with ``x`` counted, not learnt; 0.0 without precipitation."""
        t, v = key = self._tv(x)
        m = self._measure(t, v)
        self._memo = (key, m)
        if m is None:
            return 0.0
        score, up, hold, _ = m
        gated = self.gate.current if self._stale(t) else self.gate.peek(t, up, hold)[0]
        self._cache = (t, score, gated)
        return score

    def learn_one(self, x) -> None:
        """Count the rain in ``x`` (unless not newer than the newest reading) and advance the gate."""
        t, v = key = self._tv(x)
        memo = self._memo
        m = memo[1] if memo is not None and memo[0] == key else self._measure(t, v)
        self._memo = None
        if m is None:
            return
        score, up, hold, _ = m
        if self._stale(t):
            self._cache = (t, score, self.gate.current)
            return
        self._cache = (t, score, self.gate.advance(t, up, hold))
        self.held = m[3]
        self.unknown_until = self._gap_end(t)
        if self.last_t is not None:
            dt = t - self.last_t
            self.interval = usual_interval(self.interval, dt, self._is_gap(dt))
        for w in self.windows:
            w.add(self.last_t, t, v)
        self.last_t = t

    def level(self, score: float):
        """The gated level of the reading just scored; stateless for any other score."""
        t, cached, gated = self._cache
        if t is not None and score == cached:
            return LEVEL_OF[gated]
        return LEVEL_OF[self._level_of(score)]

    def evidence(self, x, score: float) -> Finding:
        """The window that comes nearest its levels: its accumulation, threshold and completeness."""
        t, v = self._tv(x)
        totals = self._totals(t, v or 0.0)
        i = max(range(len(totals)), key=lambda j: (ladder_value(totals[j], self.ladders[j]), -j))
        lvl = self.level(score)
        ladder = dict(self.ladders[i])
        threshold = ladder.get(int(lvl), self.ladders[i][0][1])
        now, gap_end = (self.last_t, self.unknown_until) if self._stale(t) else (t, self._gap_end(t))
        complete = now - self.windows[i].span >= gap_end
        hours = self.hours[i]
        details = (("window", window_label(hours)), ("window_s", f"{hours * HOUR_S:g}"),
                   ("amount_mm", f"{totals[i]:.1f}"), ("mean_mm_per_hour", f"{totals[i] / hours:.2f}"),
                   ("complete", "yes" if complete else "no"),
                   ("accumulations", ", ".join(f"{window_label(h)} {a:.1f} mm"
                                               for h, a in zip(self.hours, totals))))
        return Finding("rainfall", "weather", lvl, QUANTITY, round(totals[i], 2), score, threshold,
                       None, "rainfall", details)


def measures_precipitation(station: Station, params: Params | None = None) -> list[str | None]:
    """Streams of ``rainfall``: the station's precipitation, when it measures it."""
    return [QUANTITY] if QUANTITY in station.quantities else []


def hourly_ladder(station: Station, params: Params) -> Ladder:
    """``(level, mm in 1 h)`` pairs: the parameters', else the catalog's, else the defaults."""
    if params.hourly_levels is not None:
        return tuple(zip(map(int, LEVEL_ORDER), params.hourly_levels))
    ladder = tuple((int(lvl), th) for lvl, th in catalog_levels(station.quantities.get(QUANTITY)))
    if not ladder:
        return tuple(zip(map(int, LEVEL_ORDER), DEFAULT_HOURLY_LEVELS))
    try:
        _increasing(tuple(th for _, th in ladder), "levels")
    except ValueError as exc:
        raise ConfigError(f"catalog: station {station.id}: precipitation {exc}") from None
    return ladder


def window_ladders(station: Station, params: Params) -> tuple[Ladder, ...]:
    """The levels (mm) of each window: ``levels_mm`` or the hourly ones × ``hours ** exponent``.

    >>> from detectors.base import example_station
    >>> st = example_station(["precipitation"], kind="weather")
    >>> [[th for _, th in ladder] for ladder in window_ladders(st, Params())]
    [[10.0, 15.0, 25.0, 40.0], [14.8, 22.2, 37.1, 59.3], [20.1, 30.2, 50.3, 80.5]]
    """
    hourly = hourly_ladder(station, params)
    ladders = []
    for hours in params.windows_h:
        if hours in params.levels_mm:
            ladders.append(tuple(zip(map(int, LEVEL_ORDER), params.levels_mm[hours])))
        else:
            factor = hours ** params.duration_exponent
            ladders.append(tuple((lvl, round(th * factor, 1)) for lvl, th in hourly))
    return tuple(ladders)


@register("rainfall", params=Params, hazard="weather", applies=measures_precipitation)
def make(station: Station, quantity: str | None, params: Params) -> Rainfall:
    """``rainfall`` for the precipitation of ``station``."""
    return Rainfall(window_ladders(station, params), params)
