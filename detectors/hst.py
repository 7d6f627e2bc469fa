"""Half-space trees (river) on scaled inputs, with a quantile thresholder that re-learns.

river's ``HalfSpaceTrees`` expects features in [0, 1]: the value and its change since the last
reading are scaled by an online min-max scaler that keeps ``margin`` × the range empty on each
side, where new extremes land (or by a fixed physical range, ``fixed_range``). The
score is river's (higher = more anomalous); a reading is anomalous when its score exceeds the
running ``quantile`` of recent scores. Unlike river's ``ThresholdFilter``, the thresholder resets
its window after ``relearn_after`` consecutive exceedances, so a level shift becomes the new normal.
Heavy (trees per stream): not in the default set, opts out of the state-size check.

Examples
--------
>>> from detectors.base import example_station
>>> st = example_station(["water_level"])
>>> det = make(st, "water_level", Params(window_size=50, warmup=50))
>>> for i in range(300):
...     x = {"t": i * 600.0, "water_level": 1.0 + 0.01 * (i % 10)}
...     s = det.score_one(x); det.learn_one(x)
>>> spike = {"t": 300 * 600.0, "water_level": 9.0}
>>> det.level(det.score_one(spike)).name
'ADVISORY'
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field
from river.anomaly import HalfSpaceTrees

from detectors.base import Finding, register
from detectors.stats.baselines import OnlineMinMax, QuantileThreshold
from detectors.stats.cleaning import clamp, value_of
from riverwatch.catalog import Station
from riverwatch.model import Level
from riverwatch.state import Slotted


class Params(BaseModel):
    """Parameters of ``hst`` (trees, window, seed; scaling; thresholder)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    n_trees: int = Field(10, ge=1)
    height: int = Field(8, ge=1)
    window_size: int = Field(250, ge=10)
    seed: int = 42
    fixed_range: bool = False
    forget: float = Field(0.001, ge=0, lt=1)
    margin: float = Field(1.0, ge=0)
    quantile: float = Field(0.995, gt=0, lt=1)
    threshold_window: int = Field(500, ge=10)
    relearn_after: int = Field(24, ge=2)
    warmup: int = Field(250, ge=1)


class HST(Slotted):
    """HalfSpaceTrees detector for one quantity of one station (see the module docstring)."""

    __slots__ = ("quantity", "hazard", "model", "scale_v", "scale_d", "threshold", "last")

    def __init__(self, quantity: str, plausible, params: Params) -> None:
        self.quantity = quantity
        self.hazard = "anomaly"
        self.model = HalfSpaceTrees(n_trees=params.n_trees, height=params.height,
                                    window_size=params.window_size, seed=params.seed)
        self.scale_v = OnlineMinMax(tuple(plausible) if params.fixed_range and plausible else None,
                                    params.forget, 0.0 if params.fixed_range else params.margin)
        lo, hi = plausible if plausible else (0.0, 1.0)
        span = hi - lo
        self.scale_d = OnlineMinMax((-span, span) if params.fixed_range else None, params.forget,
                                    0.0 if params.fixed_range else params.margin)
        self.threshold = QuantileThreshold(params.quantile, params.threshold_window, params.relearn_after,
                                           params.warmup)
        self.last = math.nan

    def _features(self, v: float) -> dict[str, float]:
        d = 0.0 if self.last != self.last else v - self.last
        return {"v": self.scale_v.scale(v), "d": self.scale_d.scale(d)}

    def score_one(self, x) -> float:
        """River's half-space-tree score of the scaled value and change (0.0 when absent)."""
        v = value_of(x, self.quantity)
        if v is None:
            return 0.0
        return clamp(float(self.model.score_one(self._features(v))))

    def learn_one(self, x) -> None:
        """Learn the scaled features, the thresholder and the scalers."""
        v = value_of(x, self.quantity)
        if v is None:
            return
        features = self._features(v)
        self.threshold.learn(float(self.model.score_one(features)))
        self.model.learn_one(features)
        if self.last == self.last:
            self.scale_d.learn(v - self.last)
        self.scale_v.learn(v)
        self.last = v

    def level(self, score: float) -> Level:
        """ADVISORY above the running quantile threshold, NONE otherwise."""
        return Level.ADVISORY if self.threshold.exceeds(score) else Level.NONE

    def evidence(self, x, score: float) -> Finding:
        """The value, its score and the current quantile threshold."""
        v = value_of(x, self.quantity)
        th = self.threshold.threshold()
        return Finding("hst", "anomaly", self.level(score), self.quantity, 0.0 if v is None else v, score,
                       th if math.isfinite(th) else None, None, "anomaly.hst", ())


@register("hst", params=Params, hazard="anomaly", skip_checks=("state_size",))
def make(station: Station, quantity: str | None, params: Params) -> HST:
    """``hst`` for ``quantity`` of ``station``."""
    spec = station.quantities.get(quantity) if quantity else None
    return HST(quantity or "", spec.plausible if spec else None, params)
