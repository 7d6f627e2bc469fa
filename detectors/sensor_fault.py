"""Sensor faults: impossible values, spikes, implausible rates, stuck values, drift and dropouts.

These findings have hazard ``sensor``: they become maintenance notices, never public warnings.
Each check yields a ratio ``r`` (≥ 1 means flagged); the score is the worst check, mapped so that
its integer part is the level: ``r`` below 1 stays below 1, a flagged check scores
``severity + min(0.99, (r − 1) / 10)`` with severity 1 (advisory) for dropouts, stuck values,
drift, noise and clusters, 2 (watch) for spikes and implausible rates, 3 (warning) for impossible values.

Checks (per quantity stream, a few floats of state):

- **impossible**: outside the quantity's plausible range (catalog or physical: pH > 14,
  negative turbidity …); such values are not learnt.
- **spike**: the previous reading departed by ≥ ``spike_k`` difference scales (and ≥ ``spike_rel``
  = 15 % of the value) from the median of the three readings before it, and this one came back
  (flagged at the return, also when it overshot where the stream was after a one-reading
  departure; :mod:`detectors.stats.spike`). For :data:`PROPORTIONAL` quantities the scale is at
  least a relative one times the level. No spike is judged from readings at the bottom of the
  plausible range (a blip there comes back by itself); a spike on the first reading after a gap is
  judged at ``gap_spike_factor`` × the scale (the record was cut around it). The scales learn no
  change across a gap. A crest that a rise led up to and whose return came only after a gap is not
  judged (the river had time to recede). For :data:`HYDROGRAPH` quantities (stage, discharge) the
  jump must also beat the largest one-reading move the river itself kept lately
  (:mod:`detectors.stats.river_moves`): a flashy catchment's pulses are as sharp as a spike.
- **cluster**: ``cluster_n`` excursions of ≥ ``cluster_k`` *calm* scales within ``cluster_window``
  readings and ``cluster_window_s`` — spikes that widened the scale the next is judged by
  (:mod:`detectors.stats.spike_cluster`).
- **rate**: the same excursion (came straight back, ≥ ``spike_k`` scales) with the catalog's
  ``max_rate_per_hour`` × ``rate_factor`` in place of the relative size: the jump and the return
  were both faster than the water can change (flagged at the return). A fast change that
  *persists* (a first flush, a flash flood) is the hazard detectors' business, not a fault.
- Quantities that come in bursts (``spike_exempt``: rain per interval, wind gusts) skip spike
  and rate: one reading far above its neighbours is their nature, not a fault.
- **stuck**: the same value ``stuck_after`` times (catalog) over at least ``stuck_min_s``, and for
  longer than the stream's own pace explains: at one quantisation step per longest recent hold
  (``hold_ref``, halving every ``stuck_memory_s``) the river would have moved ``stuck_steps`` steps
  (a slow recession at 1 cm resolution holds each value for hours). A recession slows as it goes:
  when a hold set a new longest, the next may be longer again by the same factor (``hold_growth``,
  at most ``hold_growth_max``), so the pace is one step per ``hold_ref`` × ``hold_growth``.
  Turbidity and conductivity on a sonde that also reads the water level must also have held while
  the river moved ``stuck_steps`` × further than it did during their holds lately
  (:mod:`detectors.stats.hold_river`): a coarse sensor on a calm stream holds for days, a frozen one
  does not follow the river.
- **dry_probe** (conductivity, turbidity): the probe in air or fouled, conductivity collapsing
  towards zero together with turbidity collapsing or flat (:mod:`detectors.stats.dry_probe`).
- **drift**: a steady, one-directional ramp (consistent signs, constant slope: the recent and the long
  slope agree within 30 % and within the calm noise of one reading, about three standard errors of
  their difference, so a flood's curved rise on a precise gauge is not straight) over ≥ ``drift_n``
  steps that has carried the value ≥ ``drift_scales`` noise scales beyond the range the stream
  kept while it was not trending — a natural recovery returns into that range, a drift leaves it.
  A stage or discharge ramping by more than ``DRIFT_MAX_PER_DAY`` (5 %) of its size a day is a slow
  flood, not a drift: a sensor that fouls or settles does not move that fast.
  Drift (fouling, calibration) is slow, so a step is one reading but at least ``drift_min_s`` /
  ``drift_n`` seconds (30 min): the ramp must last ≥ ``drift_min_s`` (a day) whatever the reporting
  interval (48 readings were a flood's rising limb at 2-minute readings).
- **dropout** (only with ``flag_dropouts``): a gap longer than ``gap_factor`` × the longest regular
  interval seen lately, flagged at the first reading after it. Off by default: that reading is good
  data, and live silence is the warning lifecycle's stale-stream business (``stale_after_s``).
- Lasting faults (:data:`LASTING`) hold their flag while the ratio stays ≥ ``release`` (hysteresis).
- **noise**: the sensor turned erratic — the short-run roughness (EWMA over ``noise_n`` readings)
  reached ``noise_factor`` × its long-run level (EWMA over ``noise_slow_n`` readings) — a fouled or
  loose probe. Roughness is how far the second difference *reverses* (a rise or a recession,
  however curved, does not). For :data:`PROPORTIONAL` quantities (a sonde's 2–5 % of the value) it
  is a fraction of the current level, at least the usual magnitude (20th percentile of |v|).
  For :data:`HYDROGRAPH` quantities the long-run level is not learnt while the flag holds: a river's
  stage does not turn erratic, so an erratic spell stays a fault till it ends (a turbidity that
  stays rougher after a flood is learnt as its new normal).
- A water level (:data:`ON_A_DATUM`) is sized from its datum, not from zero: a gauge that reports
  metres above sea level is judged like one that reports its stage
  (:func:`detectors.stats.fault_scores.datum_of`).

Examples
--------
>>> from detectors.base import example_station
>>> st = example_station(["turbidity"], kind="water_quality")
>>> det = make(st, "turbidity", Params())
>>> out = []
>>> for i, v in enumerate([5.0, 5.2, 4.9, 5.1, 5.0, 5.1, 4.9, 5.0, 80.0, 5.1, 5.0, -3.0]):
...     x = {"t": i * 900.0, "turbidity": v}
...     s = det.score_one(x); det.learn_one(x)
...     out.append(det.level(s).name)
>>> out[8:]
['NONE', 'WATCH', 'NONE', 'WARNING']
>>> det.evidence({"t": 9 * 900.0, "turbidity": 5.1}, 2.99).details[0]
('fault', 'spike')
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding, register
from detectors.stats.cleaning import value_of
from detectors.stats.dry_probe import DryProbe
from detectors.stats.fault_scores import (DRIFT_MAX_PER_DAY, DRY_QUANTITIES, FAULTS,  # noqa: F401
                                          FOLLOW_THE_RIVER, HYDROGRAPH, LASTING, MULTIPLE_MIN, ON_A_DATUM,
                                          PROPORTIONAL, RESOLUTION, SEVERITY, fault_of as _fault_of,
                                          impossible_ratio, score as _score, worse as _worse)
from detectors.stats.hold_river import RiverDuringHold
from detectors.stats.river_moves import RiverMoves
from detectors.stats.spike import Spike
from detectors.stats.spike_cluster import SpikeCluster
from detectors.stats.gates import Gated, LevelGate
from detectors.stats.excursions import ExcursionChecks
from detectors.stats.noise_scales import NoiseScales
from riverwatch.catalog import Station
from riverwatch.units import QUANTITIES

class Params(BaseModel):
    """Parameters of ``sensor_fault`` (see the module docstring for the checks)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    spike_k: float = Field(8.0, gt=0)
    spike_rel: float = Field(0.15, gt=0)
    spike_return: float = Field(0.5, gt=0, le=1)
    rate_factor: float = Field(2.0, gt=0)
    stuck_min_s: float = Field(6 * 3600.0, ge=0)
    stuck_exempt: tuple[str, ...] = ("precipitation", "wind_speed")
    spike_exempt: tuple[str, ...] = ("precipitation", "wind_speed")
    drift_n: int = Field(48, ge=8)
    drift_min_s: float = Field(86400.0, ge=0)
    drift_scales: float = Field(10.0, gt=0)
    gap_factor: float = Field(1.3, gt=1)
    flag_dropouts: bool = False
    release: float = Field(0.67, gt=0, le=1)
    warmup: int = Field(8, ge=2)
    tau_readings: float = Field(48.0, gt=1)
    noise_n: float = Field(12.0, gt=1)
    noise_slow_n: float = Field(480.0, gt=1)
    noise_factor: float = Field(3.0, gt=1)
    stuck_steps: float = Field(3.0, gt=0)
    stuck_memory_s: float = Field(2 * 86400.0, gt=0)
    dry_abs: float = Field(10.0, ge=0)
    dry_frac: float = Field(0.05, ge=0, le=1)
    collapse_frac: float = Field(0.2, ge=0, le=1)
    cluster_k: float = Field(6.0, gt=0)
    cluster_n: int = Field(3, ge=2)
    cluster_window: int = Field(12, ge=2)
    cluster_window_s: float = Field(6 * 3600.0, gt=0)
    gap_spike_factor: float = Field(0.5, gt=0, le=1)
    hold_growth_max: float = Field(2.0, ge=1)
    spike_multiple: float = Field(3.0, ge=0)


class SensorFault(ExcursionChecks, NoiseScales, Gated):
    """Fault detector for one quantity of one station (see the module docstring)."""

    __slots__ = ("quantity", "hazard", "lo", "hi", "max_rate", "stuck_after", "stuck_ok", "res", "k",
                 "ret", "rate_factor", "stuck_min_s", "drift_n", "drift_scales", "gap_factor",
                 "warmup", "a", "t1", "v1", "t2", "v2", "dscale", "dt_typ", "n", "same_n", "same_t",
                 "sign", "fast", "slow", "env_lo", "env_hi", "gaps", "gate", "_cache", "_memo", "_fault",
                 "noise_a", "noise_b", "noise_factor", "rough_fast", "rough_slow", "proportional", "mag",
                 "drift_step_s", "drift_t", "drift_v", "drift_k", "dd", "bursty", "dscale_rel",
                 "quantum", "hold_ref", "stuck_steps", "stuck_mem", "dry", "flag_gaps", "spike", "release",
                 "lasting", "cluster", "gap_spike", "_cl", "moves", "hold_growth", "growth_max",
                 "multiple", "multiple_min", "rev", "floor", "datum", "river")
    slot_defaults = {"quantum": math.inf, "hold_ref": 0.0, "stuck_steps": Params().stuck_steps,
                     "stuck_mem": Params().stuck_memory_s, "dry": None, "flag_gaps": Params().flag_dropouts,
                     "spike": None, "release": Params().release, "lasting": frozenset(), "cluster": None,
                     "gap_spike": Params().gap_spike_factor, "_cl": None, "moves": None, "hold_growth": 1.0,
                     "growth_max": Params().hold_growth_max, "multiple": Params().spike_multiple,
                     "multiple_min": math.inf, "rev": 1.0, "floor": math.nan, "datum": 0.0, "river": None}

    def __init__(self, quantity: str, plausible, max_rate: float | None, stuck_after: int,
                 params: Params) -> None:
        self.quantity = quantity
        self.hazard = "sensor"
        q = QUANTITIES.get(quantity)
        lo, hi = plausible or (q.plausible if q else (-math.inf, math.inf))
        self.lo, self.hi = float(lo), float(hi)
        self.max_rate = max_rate
        self.stuck_after = stuck_after
        self.stuck_ok = quantity in params.stuck_exempt
        self.bursty = quantity in params.spike_exempt
        self.res = RESOLUTION.get(quantity, 1e-6)
        self.k, self.ret = params.spike_k, params.spike_return
        self.spike = Spike(params.spike_k, params.spike_return, params.spike_rel)
        self.gap_spike, self._cl = params.gap_spike_factor, None  # _cl: the cluster check's last inputs
        self.multiple = params.spike_multiple
        self.multiple_min = MULTIPLE_MIN.get(quantity, math.inf) if params.spike_multiple else math.inf
        self.cluster = _cluster(params)
        self.rate_factor = params.rate_factor
        self.stuck_min_s = params.stuck_min_s
        self.stuck_steps, self.stuck_mem = params.stuck_steps, params.stuck_memory_s
        self.quantum, self.hold_ref = math.inf, 0.0
        self.hold_growth, self.growth_max = 1.0, params.hold_growth_max
        self.moves = RiverMoves(params.tau_readings) if quantity in HYDROGRAPH else None
        self.river = RiverDuringHold() if quantity in FOLLOW_THE_RIVER else None
        self.dry = DryProbe(params.dry_abs, params.dry_frac, params.collapse_frac) \
            if quantity in DRY_QUANTITIES else None
        self.drift_n, self.drift_scales = params.drift_n, params.drift_scales
        self.drift_step_s = params.drift_min_s / params.drift_n
        self.drift_t = self.drift_v = math.nan
        self.drift_k = 0
        self.gap_factor, self.warmup = params.gap_factor, params.warmup
        self.flag_gaps, self.release, self.lasting = params.flag_dropouts, params.release, frozenset()
        self.a = 1.0 / params.tau_readings
        self.t1 = self.v1 = self.t2 = self.v2 = math.nan
        self.dscale = self.dt_typ = 0.0
        self.n = self.same_n = 0
        self.same_t = 0.0
        self.sign = self.fast = self.slow = 0.0
        self.gaps = 0
        self.noise_a, self.noise_b = 1.0 / params.noise_n, 1.0 / params.noise_slow_n
        self.noise_factor = params.noise_factor
        self.rough_fast = self.rough_slow = 0.0
        self.proportional = quantity in PROPORTIONAL
        self.dscale_rel = 0.0
        self.mag = math.nan
        self.floor, self.datum = math.nan, 0.0  # the lowest level held; what sizes are taken from
        self.dd = 0.0
        self.rev = 0.0            # how often the level went back on itself lately (EWMA)
        self.env_lo, self.env_hi = math.inf, -math.inf
        self.gate = LevelGate(1, 0.0)
        self._cache = (None, 0.0, 0)
        self._memo = None
        self._fault = ("none", 0.0, 0.0)  # (fault, ratio, value it concerns)

    # -- checks ----------------------------------------------------------------------------------
    def _checks(self, t: float, v: float, x) -> tuple[str, float, float]:
        """The worst ``(fault, ratio, value concerned)`` for reading ``(t, v)`` of ``x`` (pure)."""
        if v < self.lo or v > self.hi:
            return "impossible", impossible_ratio(v, self.lo, self.hi), v
        worst = ("none", 0.0, v)
        if self.n < 1:
            return worst
        dt = t - self.t1
        scale = max(self.dscale, self.res)
        d2 = v - self.v1
        ready = self.n >= self.warmup
        if self.flag_gaps and ready and self.dt_typ > 0 and dt > 0:
            expected = self.gap_factor * self.dt_typ
            worst = _worse(worst, ("dropout", dt / expected, v))
        if self.n >= 2 and dt > 0 and not self.bursty:
            # a crest that a rise led up to, and a return only after a gap: the river had time to recede
            across = self._after_gap(dt) and self.spike.continued()
            if not across:
                worst = _worse(worst, self._excursion(dt, d2, v, scale))
            if ready:
                if not across:
                    worst = _worse(worst, ("spike", self._spike_ratio(v, scale), self.v1))
                if self.cluster is not None and self.n * self.a > 1.0:
                    args = self._cl = (v, self._cluster_args(v, across))
                    if args[1][0] or self.cluster.events:
                        worst = _worse(worst, ("cluster", self.cluster.ratio(t, *args[1]), self.v1))
        if not self.stuck_ok and v == self.v1 and self.stuck_after:
            held = t - self.same_t
            if held >= self.stuck_min_s:
                ratio = min((self.same_n + 1) / self.stuck_after, self._expected_steps(held) / self.stuck_steps)
                moved = self.river.ratio(value_of(x, "water_level"), self.stuck_steps) if self.river else None
                worst = _worse(worst, ("stuck", ratio if moved is None else min(ratio, moved), v))
        if self.dry is not None:
            worst = _worse(worst, ("dry_probe", self.dry.ratio(x), v))
        if self.n >= 2 * self.drift_n and self.n >= 3 and self.rough_slow > 0:
            worst = _worse(worst, ("noise", self._noise_ratio(v), v))
        if self.drift_k + 1 >= 4 * self.drift_n and self.slow != 0 and abs(self.sign) >= 0.8:
            steady = abs(self.fast - self.slow) <= min(0.3 * abs(self.slow), self._reading_sd())
            beyond = max(self.env_lo - v, v - self.env_hi) / scale
            if steady and self.env_lo <= self.env_hi and beyond > 0 and not self._river_pace(v):
                worst = _worse(worst, ("drift", beyond / self.drift_scales, v))
        return worst

    def _river_pace(self, v: float) -> bool:
        """Whether the ramp is too fast for a drift of a hydrograph quantity: over
        :data:`DRIFT_MAX_PER_DAY` of its size a day, the pace of a slow flood, not of a fouled or
        settling sensor (pure)."""
        if self.quantity not in HYDROGRAPH:
            return False
        return abs(self.slow) * 86400.0 / max(self.dt_typ, self.drift_step_s) > DRIFT_MAX_PER_DAY * self._size(v)

    def _reading_sd(self) -> float:
        """The standard deviation of a reading's noise in calm times (the cluster check's calm mean
        absolute difference / 1.13, at least the rounding error of the resolution, res / √12): about
        three standard errors of the difference between a straight ramp's recent and long slopes (pure)."""
        calm = self.cluster.calm if self.cluster is not None else math.inf
        return max(calm / 1.13 if calm < math.inf else max(self.dscale, self.res), self.res / math.sqrt(12.0))

    def _measure(self, x):
        v = value_of(x, self.quantity)
        if v is None:
            return None
        t = value_of(x, "t") or 0.0
        fault, ratio, concerned = self._checks(t, v, x)
        self._fault = (fault, ratio, concerned)
        score = _score(fault, ratio)
        lvl = self._level_of(score)
        held = self._level_of(_score(fault, ratio / self.release)) if fault in self.lasting else lvl
        return score, lvl, held

    def _level_of(self, score: float) -> int:
        return max(0, min(3, int(score)))

    def _commit(self, x) -> None:
        v = value_of(x, self.quantity)
        if v is None or v < self.lo or v > self.hi:
            return
        t = value_of(x, "t") or 0.0
        if self.n and t <= self.t1:
            return
        if self.quantity in ON_A_DATUM:  # first, so this reading is sized from the datum it sets
            self._learn_floor(max(u for u in (v, self.v1, self.v2) if u == u))  # held over 3 readings
        self.lasting = frozenset({self._fault[0]}) & LASTING if self.gate.current else frozenset()
        if self.dry is not None:
            self.dry.learn(x)
        after_gap = self.n > 0 and self._after_gap(t - self.t1)
        across = after_gap and self.spike.continued()
        if self.cluster is not None and self.n * self.a > 1.0:  # once the scales have settled
            cl = self._cl
            self.cluster.learn(t, self.dscale, self.dscale_rel if self.proportional else 0.0,
                               *(cl[1] if cl is not None and cl[0] == v else self._cluster_args(v, across)))
            self._cl = None
        self.spike.learn(v)
        if self.moves is not None:
            self.moves.learn(v, after_gap or not self.n)
        a = self.a
        if self.n:
            dt = t - self.t1
            d = v - self.v1
            if not (self.dt_typ and dt > self.gap_factor * self.dt_typ):  # no change across a gap
                scale = max(self.dscale, self.res)
                ad = min(abs(d), 4.0 * scale) if self.n > 4 else abs(d)
                self.dscale += (a if self.n > 4 else 1.0 / self.n) * (ad - self.dscale)
                if self.proportional:
                    self._learn_relative_scale(d, min(self._size(v), self._size(self.v1)))
            # dt_typ: the longest regular interval lately (slowly forgotten); a gap is not learnt
            # unless gaps of that length keep coming (a new reporting interval)
            if not self.dt_typ or dt <= self.gap_factor * self.dt_typ or self.gaps >= 1:
                self.dt_typ = max(dt, self.dt_typ * (1.0 - 0.2 * a))
                self.gaps = 0
            else:
                self.gaps += 1
            if self.n >= 2:
                r = self._rough(v)
                if self.n >= 3:
                    self.rough_fast += self.noise_a * (r - self.rough_fast)
                    if self.quantity not in HYDROGRAPH or "noise" not in self.lasting:  # a river is not erratic
                        self.rough_slow += max(self.noise_b, 1.0 / (self.n - 2)) * (r - self.rough_slow)
                self.rev += self.noise_a * (self._reversal(v) - self.rev)
                self.dd = v - 2.0 * self.v1 + self.v2
            if t - self.drift_t >= self.drift_step_s:
                self._drift_step(t, v)
            if abs(self.sign) < 0.5 or self.drift_k < self.drift_n:
                self.env_lo, self.env_hi = min(self.env_lo, v), max(self.env_hi, v)
            if v == self.v1:
                self.same_n += 1
            else:
                self._learn_step(abs(d), t - self.same_t)
                self.same_n, self.same_t = 1, t
        else:
            self.same_n, self.same_t = 1, t
            self.drift_t, self.drift_v = t, v
        if self.river is not None:
            self.river.learn(value_of(x, "water_level"), self.same_n == 1)
        if self.proportional:
            self._learn_magnitude(self._size(v))
        self.t2, self.v2, self.t1, self.v1 = self.t1, self.v1, t, v
        self.n += 1

    def _learn_step(self, step: float, held: float) -> None:
        """A change of ``step`` after the previous value held for ``held`` seconds: the quantisation
        step ``quantum`` (smallest non-zero change seen, which lifts the resolution ``res`` once
        ``warmup`` readings are in) and ``hold_ref``, the longest hold lately (halving every
        ``stuck_mem`` seconds)."""
        if step < self.quantum:
            self.quantum = step
        if self.n + 1 >= self.warmup:
            self.res = max(RESOLUTION.get(self.quantity, 1e-6), self.quantum)
        ref = self.hold_ref * 0.5 ** (held / self.stuck_mem)
        if held > ref > 0:  # a new longest hold: the river slowed by held / ref
            self.hold_growth = min(held / ref, self.growth_max)
        self.hold_ref = max(held, ref)

    def _expected_steps(self, held: float) -> float:
        """The steps the stream would have moved in ``held`` seconds at its slowest recent pace: one
        step per longest recent hold ``hold_ref`` × ``hold_growth`` (how much the last new longest hold
        outgrew the one before: a recession slows as it goes; at least the reporting interval). A stream that
        has not changed once since it started has shown no pace: its hold is its own reference
        (flagged after ``stuck_memory_s`` × log2(``stuck_steps``), 3.2 days by default)."""
        ref = self.hold_ref * self.hold_growth if self.quantum < math.inf else max(self.hold_ref, held)
        return held / max(ref * 0.5 ** (held / self.stuck_mem), self.dt_typ, 1e-9)

    def _drift_step(self, t: float, v: float) -> None:
        """One step of the drift statistics: the change since the previous step."""
        d = v - self.drift_v
        self.drift_k += 1
        b = 1.0 / min(self.drift_k + 1, self.drift_n)
        s = (d > 0) - (d < 0)
        self.sign += b * (s - self.sign)
        self.fast += min(1.0, 4 * b) * (d - self.fast)
        self.slow += b * (d - self.slow)
        self.drift_t, self.drift_v = t, v

    def evidence(self, x, score: float):
        """The fault found, the value it concerns and the check's ratio."""
        fault, ratio, concerned = self._fault if _score(*self._fault[:2]) == score else (
            _fault_of(score), score, value_of(x, self.quantity) or 0.0)
        details = (("fault", fault), ("ratio", f"{ratio:.3g}"))
        if fault == "stuck":        # since when: a warning already at its level then did not rest on the frozen value
            details += (("frozen_since_s", f"{self.same_t:.3f}"),)
        return Finding("sensor_fault", "sensor", self.level(score), self.quantity, concerned, score,
                       None, None, f"sensor.{fault}", details)

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        """Convert a checkpoint written before later slots (:class:`riverwatch.state.Slotted`)."""
        if "dd" in missing:  # a checkpoint from before the drift steps and magnitude
            self.proportional, self.mag, self.dd = self.quantity in PROPORTIONAL, math.nan, 0.0
            self.drift_step_s = Params().drift_min_s / self.drift_n
            self.drift_t, self.drift_v, self.drift_k = self.t1, self.v1, max(0, self.n - 1)
        if "spike" in missing:  # before the median reference: the spike check starts from v2, v1
            self.spike = Spike(Params().spike_k, Params().spike_return, Params().spike_rel)
            self.spike.v2, self.spike.v1 = self.v2, self.v1
        if "moves" in missing and self.quantity in HYDROGRAPH:  # before the river's own moves: from now on
            self.moves = RiverMoves(Params().tau_readings)
        if "cluster" in missing:  # a checkpoint from before the cluster check: starts afresh
            self.cluster = _cluster(Params())
        if "bursty" in missing:  # a checkpoint from before the spike exemption
            self.bursty = self.quantity in Params().spike_exempt
        if "multiple_min" in missing and self.multiple:
            self.multiple_min = MULTIPLE_MIN.get(self.quantity, math.inf)
        if "dry" in missing and self.quantity in DRY_QUANTITIES:
            self.dry = DryProbe()
        if "river" in missing and self.quantity in FOLLOW_THE_RIVER:  # the river during holds: from now on
            self.river = RiverDuringHold()
        if "dscale_rel" in missing:  # scales in units of the usual magnitude: fractions now
            self.dscale_rel = 0.0
            if self.proportional:
                unit = self._level(abs(self.v1) if math.isnan(self.mag) else 0.0)
                self.rough_fast, self.rough_slow = self.rough_fast / unit, self.rough_slow / unit
                self.dscale_rel = self.dscale / unit


def _cluster(p: Params) -> SpikeCluster:
    return SpikeCluster(p.cluster_k, p.spike_rel, p.cluster_n, p.cluster_window, p.cluster_window_s)


@register("sensor_fault", params=Params, hazard="sensor")
def make(station: Station, quantity: str | None, params: Params) -> SensorFault:
    """``sensor_fault`` for ``quantity`` of ``station`` (limits from the catalog)."""
    spec = station.quantities.get(quantity) if quantity else None
    return SensorFault(quantity or "", spec.plausible if spec else None,
                       spec.max_rate_per_hour if spec else None, spec.stuck_after if spec else 12, params)
