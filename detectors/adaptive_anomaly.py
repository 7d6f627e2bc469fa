"""``adaptive_anomaly``: a fast, robust univariate anomaly detector for series without thresholds.

It learns what is normal for one stream and scores how unlikely each new reading is, in [0, 1], so one
threshold serves every stream. Four steps per reading, all plain floats (a few µs):

1. **Surprise features**, each in units of the stream's long-run standard deviation σ (exponentially
   weighted mean μ and variance, re-baselining as the level moves):
   ``innovation`` |x − EWMA forecast| (spikes), ``shift`` |short mean − μ| (level shifts, drifts) and
   ``level`` |x − μ| (values outside the usual range).
2. **Self-calibration**: each feature is standardised against its own long history (mean and variance
   over ~3,000 readings), so a noisy stream and a calm one give comparable numbers.
3. **Anomaly likelihood** (as Numenta's): the largest standardised feature, averaged over the last
   few readings, is turned into a Gaussian tail probability ``q``; the score is ``−log10(q) / 10``
   (score 0.5 ⇔ q = 10⁻⁵, 1 ⇔ q ≤ 10⁻¹⁰).
4. **Alert hygiene**: score 0 during the probationary period (the first ``probation`` readings, while
   the statistics settle), and for ``hold`` readings after a score reached ``threshold`` (the first
   detection is the one that matters; the statistics keep re-learning meanwhile). The hold cannot
   swallow a later, different anomaly: once the episode that opened it has ended (likelihood z back
   below ``release``), a reading whose z exceeds that episode's peak by ``hold_margin`` scores again.
   If a spike opened the episode (its own innovation past the z of an alert), a later reading outside
   any spike's aftermath (from a spike until z is below ``release``) need only exceed the spike's own z
   by ``hold_margin``: the z its aftermath (dragged forecast and short mean) added is no news.
   With ``routine`` on, an excursion at a time of day when one at least as strong happened on *each*
   of the last two days (:mod:`detectors.stats.routine`) is a daily routine, not an anomaly: it scores
   only if its z exceeds that usual peak by ``hold_margin`` too.

With ``season`` on, a day/week profile (:mod:`detectors.stats.seasonal`) is learnt
from ``x["t"]``; once it explains the variance clearly better than the plain level (residual variance
below ``season_ratio`` × the plain one), every feature is measured against the expected value for that
time of day and week, in units of σ widened by how much wider than average the departures from the
profile usually are at that time of day (a daily step sharper than the hourly slots is usual, not a
surprise). A series without a daily pattern never switches the profile on and is judged as without it.
On by default (docs/detectors.md).

All averages are bias-corrected while young (weight ``max(α, 1/n)``), so the detector is usable as
soon as its probation ends. Missing or non-finite values score 0 and are not learned.

Examples
--------
>>> import math
>>> from detectors.base import example_station, get
>>> st = example_station(["water_level"])
>>> det = get("adaptive_anomaly").build(st, "water_level", {"probation": 200})
>>> scores = []
>>> for i in range(600):
...     v = 1.0 + 0.05 * math.sin(i / 10) + (3.0 if i == 500 else 0.0)
...     x = {"t": 1.7e9 + 300 * i, "water_level": v}
...     scores.append(det.score_one(x))
...     det.learn_one(x)
>>> max(scores[:500]) < 0.5 <= scores[500]
True
>>> det.level(scores[500]).name
'WATCH'
"""

from __future__ import annotations

import math
from statistics import NormalDist

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding, X, register
from detectors.stats.routine import DailyRoutine
from detectors.stats.seasonal import SeasonalProfile
from riverwatch.catalog import Station
from riverwatch.model import Level
from riverwatch.state import Slotted

_SQRT2 = math.sqrt(2.0)
_LOG_FLOOR = 1e-300
_CAP = 10.0          # features are capped at 10 σ: beyond that "very surprising" is enough
_WARM = 30           # readings before features are standardised (the level statistics need a few)


class Params(BaseModel):
    """Parameters of ``adaptive_anomaly`` (defaults tuned on the NAB real series; see docs/detectors.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    probation: int = Field(750, ge=0, description="readings scored 0 while the statistics settle")
    fast: float = Field(0.3, gt=0, le=1, description="EWMA weight of the one-step forecast")
    short: float = Field(0.05, gt=0, le=1, description="EWMA weight of the short-run mean")
    long: float = Field(0.001, gt=0, le=1, description="EWMA weight of the long-run mean and variance")
    history: float = Field(0.0003, gt=0, le=1, description="EWMA weight of the feature statistics")
    average: int = Field(4, ge=1, le=100, description="readings averaged in the likelihood")
    hold: int = Field(100, ge=0, description="readings suppressed after an alert")
    hold_margin: float = Field(1.0, ge=0, description="a hold yields to a later episode this much "
                               "stronger (likelihood z) than the one that opened it")
    release: float = Field(1.0, description="likelihood z below which the opening episode has ended")
    season: bool = Field(True, description="learn a day/week profile from x['t'] and use it once it "
                         "explains the variance better than the plain level")
    season_ratio: float = Field(0.2, gt=0, lt=1, description="profile used once its residual variance "
                                "is below this fraction of the plain one")
    routine: bool = Field(True, description="an excursion no stronger (by hold_margin) than those at this "
                          "time of day on each of the last two days is routine and scores 0")
    threshold: float = Field(0.5, gt=0, le=1, description="score of an ADVISORY (and of an alert)")
    watch: float = Field(0.9, gt=0, le=1, description="score of a WATCH")


class AdaptiveAnomaly(Slotted):
    """Online anomaly likelihood of one quantity; see the module docstring.

    ``score_one(x)`` does not change the state; ``learn_one(x)`` does (reusing the work of the
    preceding ``score_one`` of the same reading).
    """

    __slots__ = ("quantity", "probation", "w_fast", "w_short", "w_long", "w_history", "hold", "threshold",
                 "watch", "n", "fast", "short_mean", "mean", "var", "feat_n", "feat_mean",
                 "feat_var", "ring", "ring_sum", "ring_pos", "last_alert", "_pending",
                 "hold_margin", "release", "alert_peak", "episode", "profile", "settle_until", "routine",
                 "outlier_z", "spike_z", "echo")
    transient_slots = frozenset({"_pending"})    # holds the reading in hand
    slot_defaults = {"_pending": None, "hold_margin": math.inf, "release": 1.0, "alert_peak": 0.0,
                     "episode": False, "profile": None, "settle_until": 0, "routine": None,
                     "outlier_z": math.inf, "spike_z": math.inf, "echo": False}

    def __init__(self, quantity: str, params: Params) -> None:
        self.quantity = quantity
        self.probation, self.hold = params.probation, params.hold
        self.w_fast, self.w_short, self.w_long, self.w_history = params.fast, params.short, params.long, params.history
        self.threshold, self.watch = params.threshold, params.watch
        self.n = 0
        self.fast = self.short_mean = self.mean = self.var = 0.0
        self.feat_n = 0
        self.feat_mean = [0.0, 0.0, 0.0]
        self.feat_var = [0.0, 0.0, 0.0]
        self.ring = [0.0] * params.average
        self.ring_sum = 0.0
        self.ring_pos = 0
        self.last_alert = -(10 ** 12)
        self.hold_margin, self.release = params.hold_margin, params.release
        self.alert_peak = 0.0
        self.episode = False
        self.profile = SeasonalProfile(ratio=params.season_ratio) if params.season else None
        self.settle_until = 0
        self.routine = DailyRoutine() if params.routine else None
        # the z of an alert (score ``threshold``): a reading whose own innovation is past it is a spike
        self.outlier_z = -NormalDist().inv_cdf(10.0 ** (-10.0 * params.threshold))
        self.spike_z = math.inf         # z of the opening reading if the episode was opened by a spike
        self.echo = False               # a spike's aftermath: from the spike until z is below ``release``
        self._pending: tuple | None = None

    # --- protocol ---------------------------------------------------------------------------

    def score_one(self, x: X) -> float:
        """Anomaly score of ``x`` in [0, 1] (0 while learning, missing or held after an alert)."""
        step = self._step(x)
        return step[0] if step else 0.0

    def learn_one(self, x: X) -> None:
        """Learn ``x`` (non-finite or missing values are skipped)."""
        step = self._step(x)
        if not step:
            return
        score, value, short_mean, raw, feats, z, season = step
        n = self.n = self.n + 1
        w_long = self.w_long
        a = w_long if w_long * n > 1.0 else 1.0 / n
        d = value - self.mean
        self.fast = value if n == 1 else self.fast + self.w_fast * (value - self.fast)
        self.short_mean = value if n == 1 else short_mean
        self.mean += a * d
        self.var = (1.0 - a) * (self.var + a * d * d)
        if feats is not None:
            fn = self.feat_n = self.feat_n + 1
            w_history = self.w_history
            b = w_history if w_history * fn > 1.0 else 1.0 / fn
            fm, fv = self.feat_mean, self.feat_var
            for k in range(3):
                e = feats[k] - fm[k]
                fm[k] += b * e
                fv[k] = (1.0 - b) * (fv[k] + b * e * e)
            pos = self.ring_pos
            self.ring_sum += raw - self.ring[pos]
            self.ring[pos] = raw
            self.ring_pos = (pos + 1) % len(self.ring)
        t = x.get("t")
        if self.routine is not None and feats is not None and t is not None:
            self.routine.learn(t, z)
        spiky = self._spiky(feats)
        if spiky:
            self.echo = True
        elif z < self.release:
            self.echo = False
        if score >= self.threshold:
            self.last_alert, self.alert_peak, self.episode = n - 1, z, True
            self.spike_z = z if spiky else math.inf
        elif self.episode:                  # the episode that opened the hold: its peak, its end
            if z > self.alert_peak:
                self.alert_peak = z
            if z < self.release:
                self.episode = False
        profile = self.profile
        if profile is not None and n > _WARM and t is not None:
            was = profile.active
            profile.learn(t, value + season, self.mean)     # the raw reading against the level
            if profile.active != was:                        # re-express the short-run state
                shift = profile.expect(t) if profile.active else -season
                self.fast -= shift
                self.short_mean -= shift
                self.var = profile.var_seasonal if profile.active else profile.var_plain
                self.settle_until = n + self.hold      # features re-settle on the new scale: no alerts
        self._pending = None

    def level(self, score: float) -> Level:
        """ADVISORY from ``threshold``, WATCH from ``watch``; never more (an anomaly is not a flood)."""
        if score >= self.watch:
            return Level.WATCH
        return Level.ADVISORY if score >= self.threshold else Level.NONE

    def evidence(self, x: X, score: float) -> Finding:
        """The value, the learned normal level and spread, and the score behind the level."""
        value = float(x.get(self.quantity, math.nan))
        expected, t = self.mean, x.get("t")
        if self.profile is not None and self.profile.active and t is not None:
            expected += self.profile.expect(t)
        return Finding("adaptive_anomaly", "anomaly", self.level(score), self.quantity, value, score,
                       threshold=self.threshold, message_key="anomaly",
                       details=(("expected", f"{expected:.6g}"), ("spread", f"{math.sqrt(self.var):.3g}")))

    # --- the work -----------------------------------------------------------------------------

    def _step(self, x: X) -> tuple | None:
        """(score, value, new short mean, raw likelihood input, features) for ``x``, cached per reading."""
        pending = self._pending
        if pending is not None and pending[0] is x:
            return pending[1]
        value = x.get(self.quantity)
        if value is None or not math.isfinite(value):
            return None
        value = float(value)
        season = 0.0
        widen = 1.0
        profile = self.profile
        t = x.get("t")
        if profile is not None and profile.active:
            if t is not None:
                season = profile.expect(t)
                value -= season               # judged against the expected value for the time
                widen = profile.spread(t)      # σ as wide as usual at this time of day
        n = self.n
        short_mean = self.short_mean + self.w_short * (value - self.short_mean)
        if n < _WARM:
            step = (0.0, value, short_mean, 0.0, None, 0.0, season)
        else:
            step = self._score(value, short_mean, n, season, widen, t)
        self._pending = (x, step)
        return step

    def _score(self, value: float, short_mean: float, n: int, season: float, widen: float = 1.0,
               t: float | None = None) -> tuple:
        sd = math.sqrt(self.var * widen) + 1e-9 * (abs(self.mean) + 1.0)
        mean = self.mean
        feats = (min(abs(value - self.fast) / sd, _CAP), min(abs(short_mean - mean) / sd, _CAP),
                 min(abs(value - mean) / sd, _CAP))
        fm, fv = self.feat_mean, self.feat_var
        raw = max((feats[k] - fm[k]) / (math.sqrt(fv[k]) + 1e-12) for k in range(3))
        ring = self.ring
        count = min(self.feat_n + 1, len(ring))
        z = (self.ring_sum - ring[self.ring_pos] + raw) / count
        # after a spike's episode, a reading outside any spike's aftermath need only beat the spike itself,
        # not its aftermath (the fast forecast and short mean it dragged raise the episode's z, not its news)
        peak = self.alert_peak if self.echo or self._spiky(feats) else min(self.alert_peak, self.spike_z)
        if n < self.probation or z <= 0.0 or n < self.settle_until or (
                n - self.last_alert < self.hold
                and (self.episode or z < peak + self.hold_margin)) or (
                self.routine is not None and t is not None and z < self.routine.usual_at(t) + self.hold_margin):
            return (0.0, value, short_mean, raw, feats, z, season)
        q = 0.5 * math.erfc(z / _SQRT2)
        score = min(1.0, -math.log10(max(q, _LOG_FLOOR)) / 10.0)
        return (score, value, short_mean, raw, feats, z, season)

    def _spiky(self, feats: tuple | None) -> bool:
        """Whether the reading's own innovation is past the z of an alert."""
        return feats is not None and feats[0] - self.feat_mean[0] > self.outlier_z * math.sqrt(self.feat_var[0])


@register("adaptive_anomaly", params=Params, hazard="anomaly")
def make(station: Station, quantity: str | None, params: Params) -> AdaptiveAnomaly:
    """One detector per quantity of the station."""
    return AdaptiveAnomaly(quantity or next(iter(station.quantities)), params)
