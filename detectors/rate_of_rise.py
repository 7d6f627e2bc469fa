"""Rate of rise: a robust slope (Theil–Sen over the last readings) for flood waves and sudden jumps.

The slope, in units per hour, of the last ``points`` readings within ``window_s`` is compared with
the rates of each level. A gauge read more often than every ``min_span_s`` / (``points`` − 2) (5 min)
is thinned to that spacing, so the slope spans the same time at a reading a minute as at one a quarter
hour (:class:`~detectors.stats.windows.Window`). Rates default to fractions of the catalog's ``max_rate_per_hour`` and
otherwise to per-quantity defaults. The slope must be consistent (Kendall-like agreement of the
pairwise slopes ≥ ``min_agreement``) and a rate alone never calls for more than ``max_level``.
A sudden jump that the robust slope still discounts as one outlier (a flash flood rising a metre
in one reading) counts too: the rise over the last ``jump_s`` above the lowest reading in that
time, per hour of ``jump_s`` (0 turns this off); the level gate's persistence keeps a lone
spike that comes back from warning. A rise across a *gap* (no reading for longer than ``jump_s`` and
than ``gap_intervals`` of the station's usual interval: a gauge that went silent in the storm) is read the same way: how fast the river rose is unknown, so
the rise since the last reading before the gap is taken as if it happened within ``jump_s``, for
the first ``jump_s`` after the gauge is back; the recent low does not drift up over time nobody saw.
A rise that happens **on most days** is not a flood wave: a tidal reach rises with each flood tide, a
snow-fed river with each afternoon's melt, a river below a hydropower dam with each weekday's release.
A rate counts only when it is faster than ``routine_factor`` × the peak rate reached on
``routine_of`` (4) of the last ``routine_days`` (7) days, so a weekend without releases does not
make Monday's a flood (:class:`~detectors.stats.daily_peaks.DailyPeaks`; 0 until four consecutive
days are seen, and on rivers that rise fast on some days only); on a tidal gauge, the peak of each of
the last three days: a surge that steepens the tide still warns, the tide itself does not. The factor allows for a routine that grows from day to day, as tides do from neaps
to springs (up to about 1.6 × in three days where the S2 tide is 0.4 of the M2). On a gauge found
tidal (``tide_share``, or the catalog's ``tidal``), the rate must also beat ``tide_factor`` × the
third-fastest day of the last 30: where the gauge is dry at low water, springs can double in a day.
It is a gate, not a subtraction: a river whose every-day rises stay under half the advisory rate (a
wet week's rain bumps) is judged exactly as without it, so a flood after a wet week is not warned
later.

Examples
--------
>>> from detectors.base import example_station
>>> st = example_station({"water_level": {"max_rate_per_hour": 1.5}})
>>> det = make(st, "water_level", Params())
>>> for i in range(8):     # a flood wave rising 0.4 m per hour, 10-minute readings
...     x = {"t": i * 600.0, "water_level": 1.0 + 0.4 * i / 6}
...     s = det.score_one(x); det.learn_one(x)
>>> round(s, 2), det.level(s).name
(2.67, 'WATCH')
"""

from __future__ import annotations

import math

from pydantic import ConfigDict, Field

from detectors.base import Finding, register
from detectors.stats.cleaning import clamp, time_of, value_of
from detectors.stats.daily_peaks import EveryDay, RoutineParams
from detectors.stats.gates import Gated, LevelGate
from detectors.stats.levels import hazard_for
from detectors.stats.trend import slope_agreement
from detectors.stats.windows import Window, usual_interval
from riverwatch.catalog import Station
from riverwatch.model import Level

#: Rates (units per hour) for advisory, watch, warning, emergency when the catalog has no maximum.
DEFAULT_RATES = {"water_level": (0.3, 0.6, 1.2, 2.4), "turbidity": (20.0, 50.0, 100.0, 200.0)}
#: How far above its recent low a quantity must have risen before a rate counts.
DEFAULT_MIN_RISE = {"water_level": 0.3, "turbidity": 20.0}


class Params(RoutineParams):
    """Parameters of ``rate_of_rise`` (with the every-day routine's, :class:`RoutineParams`).

    quantities
        Which quantities it watches (when the station measures them).
    fractions
        Rates of advisory … emergency as fractions of the catalog's ``max_rate_per_hour``.
    rates
        Per-quantity rates (units per hour) overriding fractions and defaults.
    window_s, points, min_points, min_span_s
        The slope uses the last ``points`` readings within ``window_s``, at least ``min_points``
        spanning ``min_span_s``.
    min_agreement
        Share of rising minus falling pairs needed for a trend to count.
    jump_s
        Window of the sudden-jump rate (rise above its lowest reading, per ``jump_s``); 0 = off.
    gap_intervals
        A silence longer than this many usual intervals (and than ``jump_s``) is a gap.
    min_rise
        Per-quantity rise above the recent low (``low_tau_s``) a rate needs to count; defaults
        to the watch rate × 1 h.
    max_level
        The highest level a rate alone calls for.
    persist_readings, persist_s
        Persistence of a level (see level_threshold).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    quantities: tuple[str, ...] = ("water_level", "turbidity")
    fractions: tuple[float, float, float, float] = (0.1, 0.2, 0.4, 0.8)
    rates: dict[str, tuple[float, float, float, float]] = Field(default_factory=dict)
    window_s: float = Field(7200.0, gt=0)
    points: int = Field(6, ge=3, le=12)
    min_points: int = Field(3, ge=2)
    min_span_s: float = Field(1200.0, ge=0)
    min_agreement: float = Field(0.5, ge=0, le=1)
    min_rise: dict[str, float] = Field(default_factory=dict)
    low_tau_s: float = Field(6 * 3600.0, gt=0)
    max_level: Level = Level.WATCH
    jump_s: float = Field(3600.0, ge=0)
    gap_intervals: float = Field(4.0, gt=1)
    persist_readings: int = Field(2, ge=1)
    persist_s: float = Field(0.0, ge=0)


class RateOfRise(Gated):
    """Rate-of-rise detector for one quantity of one station (see the module docstring)."""

    __slots__ = ("quantity", "hazard", "rates", "window", "min_points", "min_span_s", "min_agreement",
                 "max_level", "min_rise", "low_tau_s", "low", "low_t", "gate", "_cache",
                 "_memo", "jump_s", "before_gap", "gap_intervals", "interval", "every_day")
    slot_defaults = {"before_gap": None, "gap_intervals": Params().gap_intervals, "interval": 0.0,
                     "every_day": None}

    def __init__(self, quantity: str, rates: tuple[float, ...], min_rise: float, params: Params,
                 tidal: bool | None = None) -> None:
        self.quantity = quantity
        self.hazard = hazard_for(quantity)
        self.rates = tuple(float(r) for r in rates)
        self.window = Window.for_trend(params.points, params.window_s, params.min_span_s)
        self.min_points = params.min_points
        self.min_span_s = params.min_span_s
        self.min_agreement = params.min_agreement
        self.max_level = int(params.max_level)
        self.min_rise = min_rise
        self.low_tau_s = params.low_tau_s
        self.low = math.inf
        self.low_t = 0.0
        self.jump_s = params.jump_s
        self.before_gap: tuple[float, float] | None = None   # (first time after a gap, value before it)
        self.gap_intervals = params.gap_intervals
        self.interval = 0.0                                   # usual seconds between readings (EWMA)
        self.every_day = EveryDay(params, tidal)              # each day's peak rate; tidal?
        self.gate = LevelGate(params.persist_readings, params.persist_s)
        self._cache = (None, 0.0, 0)
        self._memo = None

    # The hot path reads ``t`` and the value out of ``x`` once per call (``_tv``) and hands them to
    # ``*_tv`` methods; ``_slope``/``_measure``/``_commit`` keep the Gated protocol for ``evidence``.

    def _tv(self, x) -> tuple[float, float | None]:
        return time_of(x), value_of(x, self.quantity)

    def score_one(self, x) -> float:
        """Score ``x`` without learning it; 0.0 when the stream's quantity is absent."""
        t, v = self._tv(x)
        sl = self._slope_tv(t, v)
        self._memo = ((t, v), sl)
        m = self._judge(sl)
        if m is None:
            return 0.0
        score, up, hold = m
        self._cache = (t, score, self.gate.peek(t, up, hold)[0])
        return score

    def learn_one(self, x) -> None:
        """Learn ``x`` and advance the level gate."""
        key = self._tv(x)
        t, v = key
        memo = self._memo
        sl = memo[1] if memo is not None and memo[0] == key else self._slope_tv(t, v)
        self._memo = None
        m = self._judge(sl)
        if m is not None:
            score, up, hold = m
            self._cache = (t, score, int(self.gate.advance(t, up, hold)))
        self._commit_tv(t, v)
        if sl is not None:
            slope, agreement, level = sl
            self.every_day.learn(t or 0.0, slope if agreement >= self.min_agreement else 0.0, level)

    def _slope(self, x) -> tuple[float, float, float] | None:
        """``(slope per hour, agreement, value)`` of the window plus ``x``; None when absent."""
        return self._slope_tv(*self._tv(x))

    def _slope_tv(self, t: float, v: float | None) -> tuple[float, float, float] | None:
        if v is None:
            return None
        t = t or 0.0
        ts, vs = self.window.points(t, v)
        jump = self._jump(t, v, ts, vs)
        if len(ts) < self.min_points or ts[-1] - ts[0] < self.min_span_s:
            return (jump, 1.0, v) if jump > 0 else (0.0, 0.0, v)
        slope, agreement = slope_agreement(ts, vs)
        if jump > slope * 3600.0:
            return jump, 1.0, v
        return slope * 3600.0, agreement, v

    def _jump(self, t: float, v: float, ts: list[float], vs: list[float]) -> float:
        """Rise per hour of ``jump_s`` above the lowest reading in it, or above the last reading
        before a gap (see the module docstring); 0.0 when off."""
        if self.jump_s <= 0:
            return 0.0
        lo = t - self.jump_s
        low = min(b for a, b in zip(ts, vs) if a >= lo)
        gap = self._gap_reference(t)
        if gap is not None:
            low = min(low, gap)
        return (v - low) * 3600.0 / self.jump_s

    def _gap_reference(self, t: float) -> float | None:
        """The value before the gap this reading ends (or that ended less than ``jump_s`` ago)."""
        last = self.window.last
        if last is not None and self._is_gap(t - last[0]):
            return last[1]
        if self.before_gap is not None and t - self.before_gap[0] <= self.jump_s:
            return self.before_gap[1]
        return None

    def _is_gap(self, dt: float) -> bool:
        """Whether ``dt`` seconds without a reading are a gap (see ``gap_intervals``)."""
        return dt > self.jump_s and self.interval > 0 and dt > self.gap_intervals * self.interval

    def _measure(self, x):
        return self._measure_tv(*self._tv(x))

    def _measure_tv(self, t: float, v: float | None):
        return self._judge(self._slope_tv(t, v))

    def _judge(self, m: tuple[float, float, float] | None) -> tuple[float, int, int] | None:
        """``(score, up, hold)`` of a slope from :meth:`_slope_tv` (0 when no faster than the routine allows)."""
        if m is None:
            return None
        slope, agreement, _ = m
        if (agreement < self.min_agreement or slope <= 0 or m[2] - self.low < self.min_rise
                or slope <= self.every_day.bar()):
            return 0.0, 0, 0
        score = clamp(slope / self.rates[0])
        lvl = self._level_of(score)
        return score, lvl, lvl

    def _level_of(self, score: float) -> int:
        rate = score * self.rates[0]
        lvl = 0
        for i, r in enumerate(self.rates):
            if rate >= r:
                lvl = i + 1
        return min(lvl, self.max_level)

    def _commit(self, x) -> None:
        self._commit_tv(*self._tv(x))

    def _commit_tv(self, t: float, v: float | None) -> None:
        if v is None:
            return
        t = t or 0.0
        w = self.window
        last = w.last
        if last is not None and t > last[0]:
            dt = t - last[0]
            if self.jump_s > 0 and self._is_gap(dt):
                self.before_gap = (t, last[1])
            self.interval = usual_interval(self.interval, dt, self._is_gap(dt))
        w.add(t, v)
        if v <= self.low:
            self.low, self.low_t = v, t
        elif t > self.low_t:     # the recent low follows the value up slowly, over observed time
            seen = min(t - self.low_t, self.window.span_s)
            self.low += (1.0 - math.exp(-seen / self.low_tau_s)) * (v - self.low)
            self.low_t = t

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        if self.every_day is None:            # a checkpoint from before the daily routine
            self.every_day = EveryDay(Params())
        self.window.thin_for(self.min_span_s)   # ... or before the window was thinned

    def evidence(self, x, score: float) -> Finding:
        """The rate per hour, its threshold and the agreement of the trend."""
        m = self._slope(x)
        slope, agreement, v = m if m is not None else (0.0, 0.0, 0.0)
        lvl = self.level(score)
        threshold = self.rates[max(int(lvl), 1) - 1]
        rise = v - self.low if math.isfinite(self.low) else 0.0
        return Finding("rate_of_rise", self.hazard, lvl, self.quantity, v, score, threshold, None,
                       "rate_of_rise", (("rate_per_hour", f"{score * self.rates[0]:.4g}"),
                                        ("agreement", f"{agreement:.2f}"), ("rise", f"{rise:.4g}")))


def watched(station: Station, params: Params | None = None) -> list[str | None]:
    """Streams of ``rate_of_rise``: the station's quantities among ``quantities``."""
    return [q for q in (params or Params()).quantities if q in station.quantities]


def rates_for(station: Station, quantity: str, params: Params) -> tuple[float, ...]:
    """Rates per hour for advisory … emergency of ``quantity`` at ``station``."""
    if quantity in params.rates:
        return params.rates[quantity]
    spec = station.quantities.get(quantity)
    if spec is not None and spec.max_rate_per_hour:
        return tuple(f * spec.max_rate_per_hour for f in params.fractions)
    return DEFAULT_RATES.get(quantity, (1.0, 2.0, 4.0, 8.0))


def min_rise_for(station: Station, quantity: str, params: Params, rates: tuple[float, ...]) -> float:
    """Rise above the recent low needed: configured, else the watch rate × 1 h when rates come
    from the configuration or the catalog, else the per-quantity default."""
    if quantity in params.min_rise:
        return params.min_rise[quantity]
    spec = station.quantities.get(quantity)
    if quantity in params.rates or (spec is not None and spec.max_rate_per_hour):
        return rates[1]
    return DEFAULT_MIN_RISE.get(quantity, rates[1])


@register("rate_of_rise", params=Params, hazard="flood", applies=watched)
def make(station: Station, quantity: str | None, params: Params) -> RateOfRise:
    """``rate_of_rise`` for ``quantity`` of ``station``."""
    q = quantity or "water_level"
    rates = rates_for(station, q, params)
    return RateOfRise(q, rates, min_rise_for(station, q, params, rates), params, station.tidal)
