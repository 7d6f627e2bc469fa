"""Time to threshold: a short, robust trend forecast that warns *before* a stage is crossed.

A Theil–Sen line through the last readings (within ``window_s``; a gauge read more often than every
5 min is thinned to that spacing, as in ``rate_of_rise``) is extrapolated; when the next
catalog level not yet reached would be crossed within ``horizon_s``, and the trend is consistent
(agreement ≥ ``min_agreement``) and steep enough (≥ ``min_rate_fraction`` of that threshold per
hour), the detector reports that level with ``expected_at`` the forecast crossing time.

The score encodes both: ``level + 0.999 × (1 − time_to_crossing / horizon)``, so its integer part is
the level to be crossed and it grows as the crossing nears (0.0 when no crossing is forecast).

Examples
--------
>>> from detectors.base import example_station
>>> st = example_station({"water_level": {"levels": {"watch": 2.5, "warning": 3.0}}})
>>> det = make(st, "water_level", Params())
>>> for i in range(7):     # rising 0.3 m/h from 1.6 m, 10-minute readings
...     x = {"t": i * 600.0, "water_level": 1.6 + 0.05 * i}
...     s = det.score_one(x); det.learn_one(x)
>>> det.level(s).name, round(det.evidence(x, s).expected_at / 3600, 2)   # 2.5 m after 3 h
('WATCH', 3.0)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding, register
from detectors.stats.cleaning import value_of
from detectors.stats.gates import Gated, LevelGate
from detectors.stats.levels import catalog_levels, hazard_for
from detectors.stats.trend import theil_sen
from detectors.stats.windows import Window
from riverwatch.catalog import Station


class Params(BaseModel):
    """Parameters of ``time_to_threshold``.

    quantities
        Quantities forecast (those with catalog levels).
    horizon_s
        Warn only for crossings forecast within this time.
    window_s, points, min_points, min_span_s
        The trend uses the last ``points`` readings within ``window_s`` (≥ ``min_points``
        spanning ≥ ``min_span_s``).
    min_agreement
        Kendall-like agreement the trend needs (share of rising minus falling pairs).
    min_rate_fraction
        Minimum slope per hour as a fraction of the threshold's magnitude.
    persist_readings, persist_s
        Persistence of a forecast level (see level_threshold).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    quantities: tuple[str, ...] = ("water_level", "discharge")
    horizon_s: float = Field(3 * 3600.0, gt=0)
    window_s: float = Field(2 * 3600.0, gt=0)
    points: int = Field(8, ge=3, le=12)
    min_points: int = Field(4, ge=3)
    min_span_s: float = Field(1200.0, ge=0)
    min_agreement: float = Field(0.6, ge=0, le=1)
    min_rate_fraction: float = Field(0.02, ge=0)
    persist_readings: int = Field(2, ge=1)
    persist_s: float = Field(0.0, ge=0)


class TimeToThreshold(Gated):
    """Threshold-crossing forecaster for one quantity of one station (see the module docstring)."""

    __slots__ = ("quantity", "hazard", "sign", "levels", "horizon_s", "window", "min_points",
                 "min_span_s", "min_agreement", "min_rate_fraction", "gate", "_cache", "_memo", "_forecast")

    def __init__(self, quantity: str, levels, direction: str, params: Params) -> None:
        self.quantity = quantity
        self.hazard = hazard_for(quantity)
        self.sign = 1.0 if direction == "above" else -1.0
        self.levels = tuple((int(lvl), th) for lvl, th in levels)
        self.horizon_s = params.horizon_s
        self.window = Window.for_trend(params.points, params.window_s, params.min_span_s)
        self.min_points = params.min_points
        self.min_span_s = params.min_span_s
        self.min_agreement = params.min_agreement
        self.min_rate_fraction = params.min_rate_fraction
        self.gate = LevelGate(params.persist_readings, params.persist_s)
        self._cache = (None, 0.0, 0)
        self._memo = None
        self._forecast = (0.0, 0.0, None, None)  # (score, value, expected_at, threshold)

    def forecast(self, x) -> tuple[float, float, float | None, float | None] | None:
        """``(score, value, expected_at, threshold)`` for ``x`` on top of the window (pure)."""
        v = value_of(x, self.quantity)
        if v is None or not self.levels:
            return None
        t = value_of(x, "t") or 0.0
        ts, vs = self.window.points(t, v)
        if len(ts) < self.min_points or ts[-1] - ts[0] < self.min_span_s:
            return 0.0, v, None, None
        slope, now, agreement = theil_sen(ts, vs)
        s = self.sign
        slope, agreement = s * slope, s * agreement
        if slope <= 0 or agreement < self.min_agreement:
            return 0.0, v, None, None
        for lvl, th in self.levels:
            gap = th - max(v, now) if s > 0 else min(v, now) - th
            if gap <= 0:
                continue              # already reached: level_threshold's business
            if slope * 3600.0 < self.min_rate_fraction * (abs(th) or 1.0):
                return 0.0, v, None, None
            tt = gap / slope
            if tt > self.horizon_s:
                return 0.0, v, None, None
            return lvl + 0.999 * (1.0 - tt / self.horizon_s), v, t + tt, th
        return 0.0, v, None, None

    def _measure(self, x):
        f = self.forecast(x)
        if f is None:
            return None
        self._forecast = f
        lvl = self._level_of(f[0])
        return f[0], lvl, lvl

    def _level_of(self, score: float) -> int:
        return max(0, min(4, int(score))) if score >= 1.0 else 0

    def _commit(self, x) -> None:
        v = value_of(x, self.quantity)
        if v is not None:
            self.window.add(value_of(x, "t") or 0.0, v)

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        self.window.thin_for(self.min_span_s)   # a checkpoint from before the window was thinned

    def evidence(self, x, score: float) -> Finding:
        """The level to be crossed, its threshold and the forecast crossing time."""
        f = self._forecast if self._forecast[0] == score else (self.forecast(x) or self._forecast)
        sc, v, expected, th = f
        lvl = self.level(score)
        if th is None:
            th = dict(self.levels).get(int(lvl))
        return Finding("time_to_threshold", self.hazard, lvl, self.quantity, v, score, th, expected,
                       "time_to_threshold", (("horizon_s", f"{self.horizon_s:g}"),))


def forecastable(station: Station, params: Params | None = None) -> list[str | None]:
    """Streams of ``time_to_threshold``: watched quantities (``quantities``) with catalog levels."""
    return [q for q in (params or Params()).quantities if q in station.quantities and station.quantities[q].levels]


@register("time_to_threshold", params=Params, hazard="flood", applies=forecastable)
def make(station: Station, quantity: str | None, params: Params) -> TimeToThreshold:
    """``time_to_threshold`` for ``quantity`` of ``station``."""
    spec = station.quantities.get(quantity) if quantity else None
    direction = spec.direction if spec is not None else "above"
    return TimeToThreshold(quantity or "", catalog_levels(spec), direction, params)
