"""Water-quality events as robust multivariate residuals against a frozen-while-alarmed baseline.

Per watched quantity (chlorine, a second chlorine sensor, pH, redox, conductivity, turbidity,
temperature) the detector keeps a short EWMA baseline (time constant ``tau_s``) and a slow robust
scale (EWMA of the winsorised absolute residual, time constant ``scale_tau_s``, floored at the
quantity's quantisation noise: ``FLOOR``, or the sensor's own step over √12 once seen, whichever is
larger). The residual ``z = (x − baseline) / scale`` of each
quantity is computed before learning; the score is the ``k``-th largest ``|z|`` (several
quantities depart together), or the largest ``|z|`` divided by ``single_ratio`` when one quantity
departs far (a lone huge departure still counts, a lone small one does not).

*Flow context*: the station's flows (``context``, e.g. two flow meters ``discharge`` and
``discharge_2``) get the same baseline and scale. When a flow departs as far as an event would
(``|z|`` ≥ the advisory score), and for ``context_s`` after, departures of the flow-sensitive
quantities (``explained``: turbidity, resuspended by a change of flow velocity; conductivity, a
change of the source-water mix) are expected water, not evidence: they are left out of the score
and their baselines follow the values, so the new level is the baseline when the context ends.
Flows are never evidence themselves. Sensor outages (floor or saturation values) stay evidence
(GECCO labels them as events). Off by default (``context_s`` 0): chosen on gecco2017 (1.5 h) it
cut false warnings on gecco2018 but hid events there (see docs/detectors.md).

*Flow fit* (``explain_tau_s`` > 0, off by default): instead of dropping the ``explained``
quantities, a slow least-squares fit (:class:`~detectors.stats.regression.TwoRegressorFit`) of their
departures on the departures of the first two flows (both winsorised at four scales, learnt only
while not alarmed) predicts the part of a departure that the flow change explains; that part is
removed before scoring and before the residual scale learns. Winsorising bounds the explanation
to about four residual scales.

*Adaptive threshold* (``tail_tau_s`` > 0, off by default): each quantity's ``|z|`` is divided by
its tail factor (≥ 1), a streaming estimate of its recent ``tail_quantile`` of ``|z|`` in units of
``levels[0] / tail_ratio``: a quantity whose residuals have become volatile needs a larger departure,
a quiet one stays as sensitive as before, and the joint score (``k``-th largest) is taken after. The
factor rises within hours and relaxes over ``tail_tau_s``; it learns only from readings that lead into
no alarm within ``hold_s`` and from departures smaller than an event, so events do not teach it. Chosen
on gecco2017 only, it did not pass that validation (see docs/detectors.md).

*Early signs* (:mod:`detectors.stats.early_signs`): each quantity keeps its last few signed
residuals; when ``k`` quantities at least halfway to the advisory score are *rising together*
(robust, steady trends, not steps), the ``k``-th largest ``|z|`` projected ``trend_horizon`` readings
ahead may raise the level by one at once, before the crossing. One quantity rising alone does not
(tried: it doubled 2018's false warnings, slow single-quantity drifts). Options, off by default
(they cost false warnings on GECCO): ``agree_quantities`` departing at once, or ``k`` whose
geometric-mean ``|z|`` reaches ``quick_ratio`` advisory scores, need no persistence, unless
all of them are flow-sensitive (``explained``): turbidity and conductivity jumping together on one
reading is as often a hydraulic change (resuspension, a source-water switch) as an event.

While the station is alarmed the baselines are frozen, so an event does not teach itself away; an
alarm that lasts ``relearn_s`` is taken as a new normal (a level shift): the baselines restart
from the current values. A raised level is held ``hold_s`` after the score falls back, so one
event gives one warning (the lifecycle would merge them anyway). One stream per station,
hazard ``water_quality``; plain floats, no window.

Examples
--------
>>> from detectors.base import example_station
>>> st = example_station(["turbidity", "conductivity", "ph"], kind="water_quality")
>>> det = make(st, None, Params(warmup=30))
>>> for i in range(300):
...     x = {"t": i * 60.0, "turbidity": 0.3 + 0.01 * (i % 3), "conductivity": 400 + i % 5, "ph": 7.5}
...     _ = det.score_one(x); det.learn_one(x)
>>> one = {"t": 18000.0, "turbidity": 0.3, "conductivity": 414.0, "ph": 7.5}
>>> two = {"t": 18000.0, "turbidity": 0.3, "conductivity": 414.0, "ph": 7.6}
>>> det.score_one(one) < 8 < det.score_one(two)      # one quantity alone, two together
True

Turbidity and conductivity departing together with a flow step are expected water, not an event:

>>> st = example_station(["turbidity", "conductivity", "ph", "discharge"], kind="water_quality")
>>> det = make(st, None, Params(warmup=30, context_s=5400))
>>> for i in range(300):
...     x = {"t": i * 60.0, "turbidity": 0.3 + 0.01 * (i % 3), "conductivity": 400 + i % 5, "ph": 7.5,
...          "discharge": 0.30 + 0.001 * (i % 2)}
...     _ = det.score_one(x); det.learn_one(x)
>>> x = {"t": 18000.0, "turbidity": 0.5, "conductivity": 430.0, "ph": 7.5, "discharge": 0.3}
>>> det.score_one(x) >= 8, det.score_one({**x, "discharge": 0.35}) >= 8
(True, False)
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding, register
from detectors.stats.cleaning import clamp, value_of
from detectors.stats.early_signs import TREND_READINGS, EarlyGate, geometric_mean, not_only, projected
from detectors.stats.flow_context import FlowContext
from detectors.stats.gates import Gated, readings_within
from detectors.stats.regression import TwoRegressorFit
from detectors.stats.residual_track import BLIP_DAYS, ResidualTrack
from detectors.stats.windows import shortest_interval
from detectors.water_quality_event import departure_finding, streams_for
from riverwatch.catalog import Station

WATCHED = ("chlorine", "chlorine_2", "ph", "redox", "conductivity", "turbidity", "water_temperature")
#: Quantisation-noise floor of the residual scale per quantity (canonical units): about a third of
#: a typical drinking-water sensor's step (step/√12), so a one-step flicker is never an event. A
#: coarser sensor's own step raises it (:class:`detectors.stats.residual_track.ResidualTrack`).
FLOOR = {"chlorine": 0.003, "chlorine_2": 0.0003, "ph": 0.003, "redox": 0.3, "conductivity": 0.3,
         "turbidity": 0.0003, "water_temperature": 0.03, "dissolved_oxygen": 0.03,
         "discharge": 8e-5, "discharge_2": 8e-5}
#: Flows that give context, and the quantities a flow change explains (see the module docstring).
CONTEXT = ("discharge", "discharge_2")
EXPLAINED = ("turbidity", "conductivity")


class Params(BaseModel):
    """Parameters of ``quality_residual`` (see the module docstring).

    quantities
        Quantities watched when present in the reading set (station quantities or extra keys
        such as ``chlorine_2``).
    k
        How many quantities must depart together.
    single_ratio
        A single quantity counts when its ``|z|`` reaches this multiple of the level's score.
    tau_s, scale_tau_s
        Time constants of the baselines and of the residual scales.
    levels
        Scores for advisory, watch, warning, emergency.
    hold_s
        A raised level is held this long after the score falls back.
    relearn_s
        An alarm lasting this long restarts the baselines (a level shift is the new normal).
    warmup
        Readings of a quantity before it is scored.
    persist_readings, persist_max_s
        Consecutive readings a new level needs, but no more of them than arrive within
        ``persist_max_s`` of the first at the usual interval, and at least one (0: no bound; see
        :func:`~detectors.stats.gates.readings_within`): two at minute and 5-minute readings, one from
        8-minute readings on, where a second reading would come after much of a 20-minute event.
    single_readings, blip_rate, blip_max, blip_max_s
        A departure of one quantity alone (not corroborated by another) reaches a public level
        only after it has lasted ``single_readings`` consecutive readings, and longer when the
        quantity's own blips (uncorroborated runs shorter than ``blip_max`` readings and lasting at
        most ``blip_max_s`` seconds at the usual interval) that long have been more frequent than
        ``blip_rate`` a day (see *Blips* in the module docstring). A blip is a few minutes'
        flicker at any cadence: at 5-minute readings a 20-minute event is not one.
    trend_horizon
        Early sign: readings ahead each residual's robust trend (Theil–Sen over the last
        :data:`~detectors.stats.early_signs.TREND_READINGS` readings, when they agree and rise
        steadily) is projected; ``k`` quantities projected past a level raise it by one at once,
        before the crossing (0: off).
    agree_quantities, quick_ratio
        Early signs that waive persistence (0: off): this many quantities departing together at
        once (at least ``k`` to mean anything), or ``k`` quantities whose geometric-mean ``|z|``
        reaches ``quick_ratio`` advisory scores; one of them not ``explained`` by flow.
    context, explained, context_s
        Flows whose change explains departures of the ``explained`` quantities during the change
        and ``context_s`` after it (``context_s`` 0: no flow context).
    explain_tau_s
        Time constant of the flow fit: the part of an ``explained`` quantity's departure that a
        slow least-squares fit on the ``context`` flows' departures predicts is removed before
        scoring (0: no fit).
    tail_tau_s, tail_quantile, tail_ratio
        Adaptive decision threshold (``tail_tau_s`` 0: off): a departure counts only as far as it
        reaches ``tail_ratio`` times the quantity's own recent ``tail_quantile`` of ``|z|``, tracked
        with time constant ``tail_tau_s`` while not alarmed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    quantities: tuple[str, ...] = WATCHED
    k: int = Field(2, ge=1)
    single_ratio: float = Field(2.0, ge=1)
    tau_s: float = Field(900.0, gt=0)
    scale_tau_s: float = Field(86400.0, gt=0)
    levels: tuple[float, float, float, float] = (8.0, 16.0, 32.0, 64.0)
    hold_s: float = Field(1800.0, ge=0)
    relearn_s: float = Field(6 * 3600.0, gt=0)
    warmup: int = Field(120, ge=2)
    persist_readings: int = Field(2, ge=1)
    persist_max_s: float = Field(450.0, ge=0)
    single_readings: int = Field(2, ge=1)
    context: tuple[str, ...] = CONTEXT
    explained: tuple[str, ...] = EXPLAINED
    context_s: float = Field(0.0, ge=0)
    explain_tau_s: float = Field(0.0, ge=0)
    tail_tau_s: float = Field(0.0, ge=0)
    tail_quantile: float = Field(0.99, gt=0, lt=1)
    tail_ratio: float = Field(2.0, gt=0)
    blip_rate: float = Field(0.05, gt=0)
    blip_max: int = Field(6, ge=2, le=16)
    blip_max_s: float = Field(360.0, gt=0)
    trend_horizon: float = Field(2.0, ge=0)
    agree_quantities: int = Field(0, ge=0)
    quick_ratio: float = Field(0.0, ge=0)


class QualityResidual(FlowContext, Gated):
    """Multivariate residual detector for one water-quality station (see the module docstring)."""

    __slots__ = ("quantities", "hazard", "tracks", "k", "single_ratio", "tau_s", "scale_tau_s", "levels",
                 "hold_s", "relearn_s", "warmup", "alarm_since", "last_high", "gate", "_cache", "_memo",
                 "context", "context_tracks", "explained", "context_s", "context_until", "explain_tau_s",
                 "fit", "fit_index", "_none", "tail", "tail_block", "single_readings", "blip_rate", "blip_max",
                 "horizon", "blip_days", "blip_t", "_deps", "_up", "agree", "quick", "blip_s", "dt_typ",
                 "persist", "persist_max_s")
    #: Added with blips and trends (checkpoints from before load with these).
    slot_defaults = {"single_readings": 2, "blip_rate": 0.05, "blip_max": 6, "horizon": 0.0, "blip_days": 0.0,
                     "blip_t": None, "_deps": None, "_up": 0, "agree": 0, "quick": 0.0,
                     "blip_s": Params().blip_max_s, "dt_typ": 0.0,   # added with blips bounded in time
                     "persist": None, "persist_max_s": Params().persist_max_s}   # with persistence in time
    transient_slots = frozenset({"_deps", "_up"})

    def __init__(self, quantities: tuple[str, ...], params: Params, context: tuple[str, ...] = ()) -> None:
        self.quantities = quantities
        self.hazard = "water_quality"
        self.tracks = tuple(ResidualTrack(FLOOR.get(q, 1e-6)) for q in quantities)
        self.k, self.single_ratio = params.k, params.single_ratio
        self.tau_s, self.scale_tau_s = params.tau_s, params.scale_tau_s
        self.levels = params.levels
        self.hold_s, self.relearn_s = params.hold_s, params.relearn_s
        self.warmup = params.warmup
        self.alarm_since: float | None = None
        self.last_high = -math.inf
        self.gate = EarlyGate(params.persist_readings, 0.0)
        self.persist, self.persist_max_s = params.persist_readings, params.persist_max_s
        self._cache = (None, 0.0, 0)
        self._memo = None
        self.context = context if params.context_s > 0 or params.explain_tau_s > 0 else ()
        self.context_tracks = tuple(ResidualTrack(FLOOR.get(q, 1e-9)) for q in self.context)
        self.explained = tuple(q in params.explained for q in quantities)
        self.context_s = params.context_s
        self.context_until = -math.inf
        self.explain_tau_s = params.explain_tau_s
        fitted = [i for i, e in enumerate(self.explained) if e] if params.explain_tau_s > 0 and self.context else []
        self.fit_index = tuple(fitted.index(i) if i in fitted else -1 for i in range(len(quantities)))
        self.fit = TwoRegressorFit(len(fitted)) if fitted else None
        self._none = (0.0,) * len(quantities)
        self.tail = ((params.tail_tau_s, params.tail_quantile, params.levels[0] / params.tail_ratio,
                      params.levels[0])
                     if params.tail_tau_s > 0 else None)
        self.tail_block = -math.inf
        self.single_readings, self.blip_rate, self.blip_max = params.single_readings, params.blip_rate, params.blip_max
        self.horizon = params.trend_horizon
        self.agree = params.agree_quantities
        self.quick = params.quick_ratio
        self.blip_days, self.blip_t = 0.0, None
        self.blip_s, self.dt_typ = params.blip_max_s, 0.0   # dt_typ: the usual interval between readings
        self._deps = None
        self._up = 0

    def zscores(self, x) -> list[tuple[float, str, float]]:
        """``(|z|, quantity, value)`` of every warmed-up watched quantity present in ``x``."""
        qs = self.quantities
        return [(az, qs[i], value_of(x, qs[i])) for az, i, _ in self._departures(x)]

    def _departures(self, x) -> list[tuple[float, int, float]]:
        """``(|z|, index, z)`` of every warmed-up watched quantity present in ``x``."""
        out = []
        context = self.in_context(x)
        fit = self.fit
        f0, f1 = self.flow_departures(x) if fit is not None and fit.n >= self.warmup else (0.0, 0.0)
        for i, (q, tr, explained, j) in enumerate(zip(self.quantities, self.tracks, self.explained, self.fit_index)):
            v = value_of(x, q)
            if v is not None and tr.n >= self.warmup and not (context and explained):
                e = fit.explained(j, f0, f1) if j >= 0 else 0.0
                z = tr.z(v - e) / tr.tail
                out.append((abs(z), i, z))
        return out

    def _key(self, x):
        return tuple(x.get(q) for q in ("t",) + self.quantities + self.context)

    def _measure(self, x):
        """Score (internal: the ``k``-th largest ``|z|``, or a lone one over ``single_ratio``) and the
        public level: quantities departing together at once (through ``persist_readings``; early signs,
        :meth:`_early`, may come sooner), a lone departure only once it has lasted as long as the
        quantity's blips rarely do."""
        t = value_of(x, "t") or 0.0
        deps = self._departures(x)
        self._deps, self._up = (t, deps), 0
        self.gate.urgent = 0
        if not deps:
            if not any(value_of(x, q) is not None for q in self.quantities):
                return None
            score, up = 0.0, 0
        else:
            k, ratio, tracks = self.k, self.single_ratio, self.tracks
            ordered = sorted(deps, reverse=True)
            together = ordered[k - 1][0] if len(ordered) >= k else 0.0
            top, i, _ = ordered[0]
            score = clamp(max(together, top / ratio))
            up = self._level_of(together)
            if len(ordered) >= k and (self.horizon > 0 or self.agree or self.quick):
                up = self._early(ordered, together, up)
            th = self.levels[0]
            if top >= th * ratio:
                for az, j, _ in ordered:
                    if az < th * ratio:
                        break
                    tr = tracks[j]
                    if abs(tr.run) + 1 >= tr.need(self.single_readings, self.blip_max, self.blip_days,
                                                  self.blip_rate):
                        up = max(up, self._level_of(az / ratio))
                        break
        held = 1 if self.gate.current and t - self.last_high < self.hold_s else 0
        self._up = up
        return score, up, max(up, min(held, self.gate.current))

    def _early(self, ordered: list[tuple[float, int, float]], together: float, up: int) -> int:
        """Early signs (see the module docstring): sets the gate's ``urgent`` level, returns the level
        called for (a trend raises it by one; the readings it rests on are its persistence)."""
        th = self.levels[0]
        if self.agree and len(ordered) >= self.agree and ordered[self.agree - 1][0] >= th \
                and not_only(ordered[:self.agree], self.explained):
            self.gate.urgent = up
        elif self.quick and together >= th and geometric_mean(ordered[:self.k]) >= self.quick * th \
                and not_only(ordered[:self.k], self.explained):
            self.gate.urgent = up
        if self.horizon > 0 and together >= 0.5 * th:
            tracks, half = self.tracks, 0.5 * th
            rising = sorted((p for az, j, z in ordered if az >= half
                             for p in (projected(tracks[j].recent, z, self.horizon),) if p > az), reverse=True)
            if len(rising) >= self.k and self._level_of(rising[self.k - 1]) > up:
                up += 1
                self.gate.urgent = up
        return up

    def _level_of(self, score: float) -> int:
        return sum(1 for th in self.levels if score >= th)

    def _commit(self, x) -> None:
        t = value_of(x, "t") or 0.0
        if self._cache[0] == t and self._up:
            self.last_high = t
        self._learn_blips(x, t)
        self.gate.readings = readings_within(self.persist, self.persist_max_s, self.dt_typ)
        alarmed = self.gate.current > 0
        if alarmed and self.alarm_since is None:
            self.alarm_since = t
        elif not alarmed:
            self.alarm_since = None
        restart = alarmed and t - self.alarm_since >= self.relearn_s
        values = [value_of(x, q) for q in self.quantities]
        explained_now = self._learn_fit(x, t, alarmed, values) if self.fit is not None else self._none
        if self.tail is not None:
            self._settle_tails(t, alarmed)
        context = self._learn_context(x, t)
        for v, tr, explained, e in zip(values, self.tracks, self.explained, explained_now):
            if v is None:
                continue
            if restart or (context and explained and tr.n >= self.warmup):
                tr.restart(t, v)
            elif not alarmed or tr.n < self.warmup:
                if self.tail is not None and tr.n >= self.warmup:
                    tr.pending += tr.tail_step(abs(tr.z(v - e)), max(t - tr.t, 0.0), *self.tail)
                tr.learn(t, v, self.tau_s, self.scale_tau_s, e)
        if restart:
            self.alarm_since, self.last_high = None, -math.inf
            self.gate = EarlyGate(self.gate.readings, 0.0)

    def _learn_blips(self, x, t: float) -> None:
        """Follow each quantity's lone runs (count those that ended as blips) and its last ``|z|``."""
        deps = self._deps[1] if self._deps is not None and self._deps[0] == t else self._departures(x)
        if not deps:
            return
        th = self.levels[0]
        lone = th * self.single_ratio
        corroborated = sum(1 for az, _, _ in deps if az >= th) >= self.k
        tracks, most = self.tracks, self.blip_max
        if self.blip_t is not None and t > self.blip_t:
            self.dt_typ = shortest_interval(self.dt_typ, t - self.blip_t)
        longest = min(most, int(self.blip_s // self.dt_typ) + 1) if self.dt_typ > 0 else most
        for az, i, z in deps:
            tr = tracks[i]
            run = tr.run
            if az >= lone:
                n = abs(run) + 1
                tr.run = -n if corroborated or run < 0 else n
            elif run:
                if 0 < run < longest:
                    tr.count_blip(run, most)
                tr.run = 0
            tr.remember(z, TREND_READINGS - 1)
        if self.blip_t is not None:
            self.blip_days += max(t - self.blip_t, 0.0) / 86400.0
            if self.blip_days > 2 * BLIP_DAYS:
                self.blip_days *= 0.5
                for tr in tracks:
                    tr.blips = tuple((c + 1) // 2 for c in tr.blips)
        self.blip_t = t

    def _settle_tails(self, t: float, alarmed: bool) -> None:
        """Blocks of ``hold_s``: an alarm drops the tail steps of its block and the block before;
        a block followed by a whole block without alarm is applied."""
        if alarmed:
            for tr in self.tracks:
                tr.pending = tr.prev = 0.0
        elif t >= self.tail_block + self.hold_s:
            for tr in self.tracks:
                tr.settle(True)
            self.tail_block = t

    def _learn_fit(self, x, t: float, alarmed: bool, values: list) -> list[float]:
        """The flow-explained departure of each quantity (``values``); learn the fit when not alarmed."""
        fit = self.fit
        f0, f1 = self.flow_departures(x)
        warm = fit.n >= self.warmup
        explained = [0.0] * len(values)
        r = [None] * len(fit.cross)
        for k, (v, tr, j) in enumerate(zip(values, self.tracks, self.fit_index)):
            if j >= 0 and v is not None and tr.n >= self.warmup:
                if warm:
                    explained[k] = fit.explained(j, f0, f1)
                r[j] = tr.departure(v)
        if not alarmed:
            fit.learn(t, f0, f1, r, self.explain_tau_s)
        return explained

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        self.gate = EarlyGate.of(self.gate)           # checkpoints from before early signs
        if self.persist is None:                      # ... and from before persistence in time
            self.persist = self.gate.readings

    def evidence(self, x, score: float) -> Finding:
        """The most departing quantity, its baseline, and the quantities departing with it."""
        means = {q: tr.mean for q, tr in zip(self.quantities, self.tracks) if tr.n}
        return departure_finding("quality_residual", self.level(score), score, self.zscores(x),
                                 self.levels[0], means, self.quantities)


station_stream = streams_for(WATCHED)


@register("quality_residual", params=Params, hazard="water_quality", applies=station_stream)
def make(station: Station, quantity: str | None, params: Params) -> QualityResidual:
    """``quality_residual`` for the station: station quantities plus extra keys such as ``chlorine_2``
    (another sensor of a station quantity, e.g. ``chlorine``); the station's flows as context."""
    def measured(q: str) -> bool:
        return q in station.quantities or q.rsplit("_", 1)[0] in station.quantities
    watched = tuple(q for q in params.quantities if measured(q))
    return QualityResidual(watched, params, tuple(q for q in params.context if measured(q)))
