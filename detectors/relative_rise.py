"""Relative rise: a flood judged against the station's own history, for gauges without thresholds.

A slow lowland flood (a few cm per hour for days) never clears ``rate_of_rise``'s rates, and a
gauge without catalog levels has nothing for ``level_threshold`` or ``time_to_threshold`` to cross.
This detector asks instead how unusual the river's height is *for this station*:

- the reading is de-spiked (median of the last three) and lightly smoothed (``smooth_tau_s``); at a
  gauge read less often than every ``despike_interval_s`` (45 min) the median would lag a rise by
  a whole reading (an hour at hourly readings), so there the score sees the reading itself while
  what is learnt stays de-spiked: a lone spike raises one reading's score, which the persistence
  keeps out;
- the **low-flow baseline** is the lowest smoothed value of the last ``base_days`` calendar days
  (:class:`~detectors.stats.baselines.DailyLow`): it does not creep up during a rise that lasts days
  (with ``base_days`` = 0, an EWMA falling with ``fall_tau_s`` and rising with ``base_tau_s``);
  while a warning is raised the baseline stays at most where it was when the warning was raised
  (for as long as the baseline remembers a low: a flood that pauses is not taught away);
- the station's **typical excess** over that baseline (its diurnal swing, its ordinary rain bumps)
  is the median over the last ``scale_days`` days of each day's mean excess
  (:class:`~detectors.stats.baselines.DailyTypical`; with ``scale_days`` = 0 an EWMA over
  ``scale_tau_s``, winsorised at ``clip``), not learnt while a warning is raised, so a flood or a
  storm does not teach itself away, and floored (``floor``) so a glassy gauge does not warn on a
  centimetre;
- the score ``z`` is the current excess in units of that typical excess.

A level is *raised* only while the rise is also **sustained**, at one of the time scales
``steps_s``: the smoothed value sampled every step (15 min for a fast wave, an hour, 4 h for a
lowland river rising a few cm an hour for days) over the last ``points`` samples rises
consistently (agreement ≥ ``min_agreement``) by at least ``min_rise_z`` typical excesses. A step
shorter than the gauge's interval samples every reading, so it keeps only the samples within
(``points`` − 1) steps' time, at least two: at 1.5-hour readings the 15-minute scale would
otherwise span 7.5 h, and a second rise on a recession would not look sustained until past its
crest. Across a **gap** (a silence longer than ``gap_intervals`` readings and two steps) a time
scale starts anew from the last value before it, and the de-spiking median does not reach across
it: a rise nobody saw is not sustained, so a gauge back on a flood's recession is not warned, and
one back on a rise is warned once it shows the river still rising. Once
raised, a level holds while ``z`` stays above ``hold_fraction`` of its threshold, so a flood that
pauses on its way up keeps its warning. On the
**recession** the warning is released once the excess has fallen to ``release_fraction`` of the
episode's peak excess, and no level is raised again below that line (or the value it was released
at, if higher) until the river is back near its baseline: a receding flood's wiggles do not re-raise
it, also when the gauge came back from an outage far down the recession. A rise the river
makes **every day** (a tidal reach's flood tide, fast in an estuary, where the baseline is low
water) raises nothing: the excess must be over ``routine_factor`` × the rise within the day reached on
``routine_of`` of the last ``routine_days`` days (:class:`~detectors.stats.daily_peaks.DailyPeaks`: a
tide's range; about nothing on a river receding from a flood, so a second flood on its recession
is raised as before), and on a tidal gauge ``tide_factor`` × the third-largest such rise of the
last 30 days. Levels
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

from pydantic import ConfigDict, Field

from detectors.base import Finding, register
from detectors.stats.baselines import DailyLow, DailyTypical
from detectors.stats.cleaning import clamp, time_of, value_of
from detectors.stats.daily_peaks import EveryDay, RoutineParams
from detectors.stats.gates import Gated, LevelGate
from detectors.stats.trend import slope_agreement
from detectors.stats.windows import shortest_interval
from riverwatch.catalog import Station

#: The quantities watched by default, first present wins (see ``flood_stream``; discharge is not:
#: see ``quantities`` in :class:`Params`).
WATCHED = ("water_level",)
#: Least typical excess (canonical units: m of stage, natural log of discharge).
DEFAULT_FLOOR = {"water_level": 0.03, "discharge": 0.1}


class Params(RoutineParams):
    """Parameters of ``relative_rise`` (with the every-day routine's, :class:`RoutineParams`: the
    excess must beat ``routine_factor`` × the routine's rise within a day, and on a tidal gauge
    ``tide_factor`` × the month's third-largest).

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
    steps_s, points, min_agreement, min_rise_z
        The sustained-rise condition: at one of the ``steps_s``, ``points`` samples that far apart
        rising with agreement ≥ ``min_agreement`` and by ≥ ``min_rise_z`` typical excesses.
    base_days
        Days of the low-water baseline (0: the EWMA of ``fall_tau_s``/``base_tau_s``).
    scale_days
        The typical excess is the median of the last ``scale_days`` days' mean excess (0: the EWMA
        of ``scale_tau_s``, winsorised at ``clip``).
    release_fraction
        A raised warning ends once the excess is down to this fraction of its peak (0 = off).
    warmup_s
        No level before the stream has been watched this long.
    persist_readings
        Readings a new level needs (see level_threshold).
    quantities
        Quantities watched, the first the station measures wins: ``["water_level", "discharge"]``
        also watches a gauge that reports discharge only (not by default: docs/detectors.md).
    despike_interval_s
        Readings further apart than this (the shortest interval lately) are scored as they come:
        between the half-hour and the hour, so a half-hourly gauge that misses readings stays de-spiked.
    gap_intervals
        A silence longer than this many intervals (the shortest lately) and than two steps breaks a
        step's samples: the rise test starts that step anew (as ``rate_of_rise``'s).
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
    steps_s: tuple[float, ...] = Field((900.0, 3600.0, 4 * 3600.0), min_length=1)
    base_days: int = Field(3, ge=0)
    scale_days: int = Field(7, ge=0)
    release_fraction: float = Field(0.5, ge=0, lt=1)
    points: int = Field(6, ge=3, le=12)
    min_agreement: float = Field(0.6, ge=0, le=1)
    min_rise_z: float = Field(1.0, ge=0)
    warmup_s: float = Field(86400.0, ge=0)
    persist_readings: int = Field(2, ge=1)
    despike_interval_s: float = Field(2700.0, gt=0)
    gap_intervals: float = Field(4.0, gt=1)
    quantities: tuple[str, ...] = WATCHED


class RelativeRise(Gated):
    """Relative-rise detector for one flood quantity of one station (see the module docstring)."""

    __slots__ = ("quantity", "hazard", "log", "thresholds", "hold_fraction", "smooth_tau_s", "fall_tau_s",
                 "base_tau_s", "scale_tau_s", "clip", "floor", "min_agreement", "min_rise_z",
                 "warmup_s", "points", "t0", "t", "prev", "smooth", "base", "scale", "gate", "_cache", "_memo",
                 "steps_s", "sampled", "sampled_t", "lows", "typical", "release_fraction", "peak", "released_at",
                 "raised_base", "_adv", "every_day", "despike_interval_s", "cadence", "gap_intervals")
    transient_slots = frozenset({"_adv"})
    # A state written before these slots: the old baseline and scale (EWMA), no release, samples anew.
    slot_defaults = {"lows": None, "typical": None, "release_fraction": 0.0, "peak": None, "released_at": None,
                     "raised_base": None, "_adv": None, "every_day": None,
                     "despike_interval_s": Params().despike_interval_s, "cadence": 0.0,
                     "gap_intervals": Params().gap_intervals}

    def __init__(self, quantity: str, floor: float, params: Params, tidal: bool | None = None) -> None:
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
        self.min_agreement = params.min_agreement
        self.min_rise_z = params.min_rise_z
        self.warmup_s = params.warmup_s
        self.points = params.points
        self.t0: float | None = None        # first reading's time
        self.t = 0.0                        # last reading's time
        self.prev: tuple[float, ...] = ()   # the last two (transformed) readings, for the median
        self.cadence = 0.0                  # seconds between readings (the shortest lately)
        self.despike_interval_s = params.despike_interval_s
        self.gap_intervals = params.gap_intervals
        self.smooth = 0.0
        self.base = 0.0
        self.scale = floor
        self.steps_s = tuple(params.steps_s)
        self.sampled: list[list[float]] = [[] for _ in self.steps_s]  # per step, oldest first (≤ points - 1)
        self.sampled_t = [0.0 for _ in self.steps_s]
        self.lows = DailyLow(params.base_days) if params.base_days else None
        self.typical = DailyTypical(params.scale_days) if params.scale_days else None
        self.release_fraction = params.release_fraction
        self.peak: float | None = None       # highest excess of the warning now raised
        self.released_at: float | None = None  # smoothed value the last warning was released at
        self.raised_base: tuple[float, float] | None = None  # (time, baseline) when the warning was raised
        self.gate = LevelGate(params.persist_readings, 0.0)
        self.every_day = EveryDay(params, tidal)         # each day's rise (a tide's range); tidal?
        self._adv = None
        self._cache = (None, 0.0, 0)
        self._memo = None

    # -- the pure part: what this reading would make of the state ---------------------------------
    def _value(self, x) -> float | None:
        v = value_of(x, self.quantity)
        if v is None or not self.log:
            return v
        return math.log(max(v, 1e-3))

    def _advance(self, t: float, v: float) -> tuple[float, float, float]:
        """``(smooth, base, now)`` after reading ``v`` at ``t``: the smoothed de-spiked value learnt, the
        baseline, and the smoothed value the score sees (see :meth:`_advance_anew`; not committed; the last answer is
        kept until the reading is learnt, which asks again)."""
        hit = self._adv
        if hit is not None and hit[0] == t and hit[1] == v:
            return hit[2]
        out = self._advance_anew(t, v)
        self._adv = (t, v, out)
        return out

    def _advance_anew(self, t: float, v: float) -> tuple[float, float, float]:
        p = self.prev
        if len(p) == 2 and self._unbroken(t, min(self.steps_s)):   # no median across a gap
            a, b = p
            m = a if (b <= a <= v or v <= a <= b) else b if (a <= b <= v or v <= b <= a) else v
        else:
            m = v
        if self.t0 is None:
            return m, m, m
        dt = max(t - self.t, 0.0)
        a = 1.0 - math.exp(-dt / self.smooth_tau_s)
        smooth = self.smooth + a * (m - self.smooth)
        # Read less often than every despike_interval_s, the median would lag a rise by a whole
        # reading: the score sees the reading itself, what is learnt stays de-spiked (so a lone
        # spike raises one reading's score, and the persistence keeps it out).
        now = self.smooth + a * (v - self.smooth) if self.cadence > self.despike_interval_s else smooth
        if self.lows is not None:
            base = self.lows.value(t, smooth)
        else:
            tau = self.fall_tau_s if smooth < self.base else self.base_tau_s
            base = self.base + (1.0 - math.exp(-dt / tau)) * (smooth - self.base)
        if self.raised_base is not None and t - self.raised_base[0] < self._memory_s():
            base = min(base, self.raised_base[1])  # a raised warning: judged against the low before it
        return smooth, base, now

    def _measure(self, x):
        v = self._value(x)
        if v is None:
            return None
        t = time_of(x)
        _, base, smooth = self._advance(t, v)          # smooth: the value the score sees
        z = clamp(max(smooth - base, 0.0) / self.scale)
        if self.t0 is None or t - self.t0 < self.warmup_s:
            return z, 0, 0
        hold = self._level_of(z / self.hold_fraction)
        up = self._level_of(z)
        excess = smooth - base
        if up and (not self._rising(t, smooth) or excess <= self.every_day.bar()):
            up = 0                                    # not rising, or no higher than every day
        if self.peak is not None and self.release_fraction and excess <= self.release_fraction * self.peak:
            up = hold = 0                             # the flood is receding: released
        if self.released_at is not None and smooth <= self.released_at:
            up = 0                                    # a receding flood's wiggle: not raised again
        return z, up, hold

    def _level_of(self, score: float) -> int:
        lvl = 0
        for i, z in enumerate(self.thresholds):
            if score >= z:
                lvl = i + 1
        return lvl

    def _rising(self, t: float, smooth: float) -> bool:
        """Whether the samples of one of the steps and ``smooth`` (what the score sees at ``t``) now
        rise consistently (see the module); samples from before a silence do not count."""
        return any(self._rising_in(samples[-self._samples_within(step):] if self._unbroken(t, step)
                                   else [self.smooth], smooth)
                   for samples, step in zip(self.sampled, self.steps_s))

    def _unbroken(self, t: float, step: float) -> bool:
        """Whether the samples of ``step`` still chain to a reading at ``t``: the silence since the last
        reading is no gap, at most two steps or ``gap_intervals`` readings. Across a longer one nobody
        saw how the river moved: the step starts anew from the last value before the gap, so a
        gauge back on a flood's recession has not risen, and one back on a rise must show it rising."""
        return t - self.t <= max(2.0 * step, self.gap_intervals * self.cadence)

    def _samples_within(self, step: float) -> int:
        """How many samples of ``step`` the rise test takes: ``points`` − 1, or at a cadence slower than
        ``step`` as many as fit in (``points`` − 1) steps' time, at least two."""
        n = self.points - 1
        return n if self.cadence <= step else max(2, min(n, int(n * step / self.cadence)))

    def _rising_in(self, samples: list[float], smooth: float) -> bool:
        """Whether ``samples`` and ``smooth`` rise consistently by ≥ ``min_rise_z`` typical excesses."""
        vs = [*samples, smooth]
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
        smooth, base, now = self._advance(t, v)
        if self.t0 is None:
            self.t0 = t
            self.sampled = [[smooth] for _ in self.steps_s]
            self.sampled_t = [t for _ in self.steps_s]
        else:
            self._learn_scale(t, max(smooth - base, 0.0))
            for k, step in enumerate(self.steps_s):
                if not self._unbroken(t, step):
                    self.sampled[k], self.sampled_t[k] = [self.smooth, now], t   # anew after a gap
                elif t - self.sampled_t[k] >= step:
                    self.sampled[k].append(now)
                    del self.sampled[k][: -(self.points - 1)]
                    self.sampled_t[k] = t
        if self.t0 != t and t > self.t:
            self.cadence = shortest_interval(self.cadence, t - self.t)
        self._track_episode(t, smooth, base)
        self.every_day.learn_rise(t, smooth)
        if self.lows is not None:
            self.lows.update(t, smooth)
        self.prev = (self.prev[-1], v) if self.prev else (v,)
        self._adv = None
        self.smooth, self.base, self.t = smooth, base, t

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        """A state written before the time scales: sample anew at the default ones; before the
        daily routine: start one."""
        if self.every_day is None:
            self.every_day = EveryDay(Params())
        if "steps_s" in missing:
            self.steps_s = Params().steps_s
            self.sampled = [[self.smooth] for _ in self.steps_s]
            self.sampled_t = [self.t for _ in self.steps_s]

    def _learn_scale(self, t: float, e: float) -> None:
        """The typical excess learns ``e``, but not while a warning is raised; after a day or more
        without readings the typical from before the outage stands until two new days complete."""
        if self.typical is not None and t - self.t > 86400.0:
            self.typical.mark_outage()
        if self.gate.current:
            return
        if self.typical is not None:
            self.typical.update(t, e)
            self.scale = max(self.floor, self.typical.value(self.floor))
            return
        dt = t - self.t
        a = 1.0 - math.exp(-dt / self.scale_tau_s)
        if t - self.t0 < self.warmup_s:           # learn the station's range quickly at first
            a = max(a, dt / max(t - self.t0, dt))
        self.scale = max(self.floor, self.scale + a * (min(e, self.clip * self.scale) - self.scale))

    def _memory_s(self) -> float:
        """How long the baseline remembers a low (its window, or its rising time constant)."""
        return self.lows.days * 86400.0 if self.lows is not None else self.base_tau_s

    def _track_episode(self, t: float, smooth: float, base: float) -> None:
        """The baseline and peak excess of the raised warning; where it was released (forgotten near
        the baseline): no lower than the release line, also when a gauge comes back from an outage
        far down the recession."""
        if self.gate.current:
            self.peak = max(self.peak or 0.0, smooth - base)
            self.released_at = None
            self.raised_base = (t, base) if self.raised_base is None else self.raised_base
            return
        self.raised_base = None
        if self.peak is not None:   # released: at least where the recession crossed the release line
            self.released_at = max(smooth, base + self.release_fraction * self.peak)
            self.peak = None
        if self.released_at is not None and smooth - base < self.hold_fraction * self.thresholds[0] * self.scale:
            self.released_at = None

    def evidence(self, x, score: float) -> Finding:
        """The excess over the baseline, the typical excess and the baseline itself; the threshold is
        the level's mark in the quantity's unit, baseline + multiple × typical excess (it was the
        multiple, which a warning text read as metres: "0.89 m, beyond the advisory threshold of 4 m")."""
        v = value_of(x, self.quantity)
        lvl = self.level(score)
        th = self.thresholds[max(int(lvl), 1) - 1]
        mark = self.base + th * self.scale
        base, mark = (math.exp(self.base), math.exp(mark)) if self.log else (self.base, mark)
        return Finding("relative_rise", self.hazard, lvl, self.quantity, 0.0 if v is None else v, score, mark,
                       None, "relative_rise", (("baseline", f"{base:.4g}"), ("typical_excess", f"{self.scale:.4g}"),
                                               ("log", str(self.log).lower()), ("multiple", f"{th:g}")))


def flood_stream(station: Station, params: Params | None = None) -> list[str | None]:
    """Streams of ``relative_rise``: the first of ``quantities`` the station measures (the stage; with
    ``discharge`` added, the discharge at a station without a stage), when the catalog gives it no
    levels (thresholds are level_threshold's and time_to_threshold's)."""
    for q in (params or Params()).quantities:
        spec = station.quantities.get(q)
        if spec is not None:
            return [] if spec.levels else [q]
    return []


@register("relative_rise", params=Params, hazard="flood", applies=flood_stream)
def make(station: Station, quantity: str | None, params: Params) -> RelativeRise:
    """``relative_rise`` for ``quantity`` of ``station``."""
    q = quantity or "water_level"
    return RelativeRise(q, params.floor.get(q, DEFAULT_FLOOR.get(q, 0.03)), params, station.tidal)
