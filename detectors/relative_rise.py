"""Relative rise: a flood judged against the station's own history, for gauges without thresholds.

A slow lowland flood (a few cm per hour for days) never clears ``rate_of_rise``'s rates, and a
gauge without catalog levels has nothing for ``level_threshold`` or ``time_to_threshold`` to cross.
This detector asks instead how unusual the river's height is *for this station*:

- the reading is de-spiked (median of the last three) and lightly smoothed (``smooth_tau_s``);
- a slow **low-flow baseline** follows the smoothed value down quickly (``fall_tau_s``) and up only
  slowly (``base_tau_s``, days), so it sits on the station's recent low water;
- the station's **typical excess** over that baseline (its diurnal swing, its ordinary rain bumps)
  is an EWMA over ``scale_tau_s`` (about a week), winsorised at ``clip`` times itself so a flood does
  not teach itself away, and floored (``floor``) so a glassy gauge does not warn on a centimetre;
- the score ``z`` is the current excess in units of that typical excess.

A level is *raised* only while the rise is also **sustained**: the smoothed value sampled every
``step_s`` over the last ``points`` samples rises consistently (agreement ≥ ``min_agreement``) by at
least ``min_rise_z`` typical excesses. Once raised, a level holds while ``z`` stays above
``hold_fraction`` of its threshold, so a flood that pauses on its way up keeps its warning. Levels
ADVISORY, WATCH, WARNING follow ``z`` ≥ ``thresholds``; nothing is raised in the first ``warmup_s``
of a stream (the station's history is not known yet). Discharge is judged in logarithms (a flood is
a multiple of the usual flow); it is watched only at stations without a stage (``applies``).

Examples
--------
>>> from detectors.base import example_station
>>> st = example_station(["water_level"])
>>> det = make(st, "water_level", Params())
>>> import math
>>> out = []
>>> for i in range(8 * 96):          # 15-min readings: 3 quiet days with a 5 cm diurnal swing,
...     h = i / 4                     # then a lowland flood rising 3 cm per hour
...     x = {"t": i * 900.0, "water_level": 1.0 + 0.05 * math.sin(h / 24 * 2 * math.pi)
...                                      + 0.03 * max(0.0, h - 72)}
...     s = det.score_one(x); det.learn_one(x); out.append(det.level(s).name)
>>> out.index("ADVISORY") / 4 - 72 < 12   # hours into the rise
True
>>> max(out, key=["NONE", "ADVISORY", "WATCH", "WARNING"].index)
'WARNING'
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding, register
from detectors.stats.cleaning import clamp, time_of, value_of
from detectors.stats.gates import Gated, LevelGate
from detectors.stats.trend import slope_agreement
from riverwatch.catalog import Station

#: The quantities watched, first present wins (see ``flood_stream``).
WATCHED = ("water_level",)
#: Least typical excess (canonical units: m of stage, natural log of discharge).
DEFAULT_FLOOR = {"water_level": 0.03, "discharge": 0.1}


class Params(BaseModel):
    """Parameters of ``relative_rise``.

    thresholds
        Excess over the baseline, in typical excesses, for ADVISORY, WATCH, WARNING.
    hold_fraction
        A raised level holds while the excess stays above this fraction of its threshold.
    smooth_tau_s, fall_tau_s, base_tau_s, scale_tau_s
        Time constants: smoothing of the de-spiked reading; the baseline falling and rising;
        the typical excess.
    clip
        Winsorising of the typical excess's updates (multiples of itself).
    floor
        Per-quantity least typical excess (m; log units for discharge).
    step_s, points, min_agreement, min_rise_z
        The sustained-rise condition: ``points`` samples ``step_s`` apart rising with agreement ≥
        ``min_agreement`` and by ≥ ``min_rise_z`` typical excesses.
    warmup_s
        No level before the stream has been watched this long.
    persist_readings
        Readings a new level needs (see level_threshold).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    thresholds: tuple[float, float, float] = (4.0, 8.0, 16.0)
    hold_fraction: float = Field(0.6, gt=0, le=1)
    smooth_tau_s: float = Field(1800.0, gt=0)
    fall_tau_s: float = Field(3600.0, gt=0)
    base_tau_s: float = Field(3 * 86400.0, gt=0)
    scale_tau_s: float = Field(7 * 86400.0, gt=0)
    clip: float = Field(3.0, gt=1)
    floor: dict[str, float] = Field(default_factory=dict)
    step_s: float = Field(3600.0, gt=0)
    points: int = Field(6, ge=3, le=12)
    min_agreement: float = Field(0.6, ge=0, le=1)
    min_rise_z: float = Field(1.0, ge=0)
    warmup_s: float = Field(86400.0, ge=0)
    persist_readings: int = Field(2, ge=1)


class RelativeRise(Gated):
    """Relative-rise detector for one flood quantity of one station (see the module docstring)."""

    __slots__ = ("quantity", "hazard", "log", "thresholds", "hold_fraction", "smooth_tau_s", "fall_tau_s",
                 "base_tau_s", "scale_tau_s", "clip", "floor", "step_s", "min_agreement", "min_rise_z",
                 "warmup_s", "points", "t0", "t", "prev", "smooth", "base", "scale", "samples", "sample_t", "gate",
                 "_cache", "_memo")

    def __init__(self, quantity: str, floor: float, params: Params) -> None:
        self.quantity = quantity
        self.hazard = "flood"
        self.log = quantity == "discharge"
        self.thresholds = tuple(float(z) for z in params.thresholds)
        self.hold_fraction = params.hold_fraction
        self.smooth_tau_s = params.smooth_tau_s
        self.fall_tau_s = params.fall_tau_s
        self.base_tau_s = params.base_tau_s
        self.scale_tau_s = params.scale_tau_s
        self.clip = params.clip
        self.floor = floor
        self.step_s = params.step_s
        self.min_agreement = params.min_agreement
        self.min_rise_z = params.min_rise_z
        self.warmup_s = params.warmup_s
        self.points = params.points
        self.t0: float | None = None        # first reading's time
        self.t = 0.0                        # last reading's time
        self.prev: tuple[float, ...] = ()   # the last two (transformed) readings, for the median
        self.smooth = 0.0
        self.base = 0.0
        self.scale = floor
        self.samples: list[float] = []      # smoothed value every step_s, oldest first (≤ points - 1)
        self.sample_t = 0.0
        self.gate = LevelGate(params.persist_readings, 0.0)
        self._cache = (None, 0.0, 0)
        self._memo = None

    # -- the pure part: what this reading would make of the state ---------------------------------
    def _value(self, x) -> float | None:
        v = value_of(x, self.quantity)
        if v is None or not self.log:
            return v
        return math.log(max(v, 1e-3))

    def _advance(self, t: float, v: float) -> tuple[float, float, float]:
        """``(smooth, base, despiked)`` after reading ``v`` at ``t`` (not committed)."""
        p = self.prev
        if len(p) == 2:
            a, b = p
            m = a if (b <= a <= v or v <= a <= b) else b if (a <= b <= v or v <= b <= a) else v
        else:
            m = v
        if self.t0 is None:
            return m, m, m
        dt = max(t - self.t, 0.0)
        smooth = self.smooth + (1.0 - math.exp(-dt / self.smooth_tau_s)) * (m - self.smooth)
        tau = self.fall_tau_s if smooth < self.base else self.base_tau_s
        base = self.base + (1.0 - math.exp(-dt / tau)) * (smooth - self.base)
        return smooth, base, m

    def _measure(self, x):
        v = self._value(x)
        if v is None:
            return None
        t = time_of(x)
        smooth, base, _ = self._advance(t, v)
        z = clamp(max(smooth - base, 0.0) / self.scale)
        if self.t0 is None or t - self.t0 < self.warmup_s:
            return z, 0, 0
        hold = self._level_of(z / self.hold_fraction)
        up = self._level_of(z)
        if up and not self._rising(t, smooth):
            up = 0
        return z, up, hold

    def _level_of(self, score: float) -> int:
        lvl = 0
        for i, z in enumerate(self.thresholds):
            if score >= z:
                lvl = i + 1
        return lvl

    def _rising(self, t: float, smooth: float) -> bool:
        """Whether the samples and ``smooth`` now rise consistently by ≥ ``min_rise_z`` excesses."""
        vs = [*self.samples, smooth]
        if len(vs) < 3 or vs[-1] - vs[0] < self.min_rise_z * self.scale:
            return False
        ts = [float(i) for i in range(len(vs))]
        slope, agreement = slope_agreement(ts, vs)
        return slope > 0 and agreement >= self.min_agreement

    # -- learning ---------------------------------------------------------------------------------
    def _commit(self, x) -> None:
        v = self._value(x)
        if v is None:
            return
        t = time_of(x)
        if self.t0 is not None and t < self.t:
            return                                    # out of order: dropped
        smooth, base, m = self._advance(t, v)
        if self.t0 is None:
            self.t0 = t
            self.samples = [smooth]
            self.sample_t = t
        else:
            dt = t - self.t
            e = max(smooth - base, 0.0)
            lim = self.clip * self.scale
            a = 1.0 - math.exp(-dt / self.scale_tau_s)
            if t - self.t0 < self.warmup_s:           # learn the station's range quickly at first
                a = max(a, dt / max(t - self.t0, dt))
            self.scale = max(self.floor, self.scale + a * (min(e, lim) - self.scale))
            if t - self.sample_t >= self.step_s:
                self.samples.append(smooth)
                del self.samples[: -(self.points - 1)]
                self.sample_t = t
        self.prev = (self.prev[-1], v) if self.prev else (v,)
        self.smooth, self.base, self.t = smooth, base, t

    def evidence(self, x, score: float) -> Finding:
        """The excess over the baseline, the typical excess and the baseline itself."""
        v = value_of(x, self.quantity)
        lvl = self.level(score)
        th = self.thresholds[max(int(lvl), 1) - 1]
        base = math.exp(self.base) if self.log else self.base
        return Finding("relative_rise", self.hazard, lvl, self.quantity, 0.0 if v is None else v, score, th,
                       None, "relative_rise", (("baseline", f"{base:.4g}"), ("typical_excess", f"{self.scale:.4g}"),
                                               ("log", str(self.log).lower())))


def flood_stream(station: Station) -> list[str | None]:
    """Streams of ``relative_rise``: the stage, or the discharge at a station without one, when the
    catalog gives it no levels (thresholds are level_threshold's and time_to_threshold's)."""
    for q in WATCHED:
        spec = station.quantities.get(q)
        if spec is not None:
            return [] if spec.levels else [q]
    return []


@register("relative_rise", params=Params, hazard="flood", applies=flood_stream)
def make(station: Station, quantity: str | None, params: Params) -> RelativeRise:
    """``relative_rise`` for ``quantity`` of ``station``."""
    q = quantity or "water_level"
    return RelativeRise(q, params.floor.get(q, DEFAULT_FLOOR.get(q, 0.03)), params)
