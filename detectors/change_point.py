"""Change points: river's PageHinkley (default) or ADWIN on robust z-scores of one stream.

Values are standardised against a robust baseline (EWMA location and deviation, see
:class:`detectors.stats.baselines.RobustBaseline`) and clipped to ±``clip`` before they reach the
drift detector, so its threshold means the same for every quantity. The score spikes at a
detected change: ``1 + min(|z|, 10) / 10`` there, ``min(|z|, 10) / 20`` (< 0.5) elsewhere.
A change is an ``ADVISORY`` anomaly.

The drift detector advances on the first sight of a reading, whether ``score_one`` or
``learn_one`` comes first; the other call reuses that result (so scoring stays before learning).

Examples
--------
>>> from detectors.base import example_station
>>> st = example_station(["water_level"])
>>> det = make(st, "water_level", Params())
>>> levels = []
>>> for i in range(300):
...     x = {"t": i * 600.0, "water_level": (1.0 if i < 200 else 1.8) + 0.01 * (i % 5)}
...     s = det.score_one(x); det.learn_one(x)
...     levels.append(det.level(s))
>>> first = levels.index(Level.ADVISORY); 200 <= first < 215
True
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from river import drift

from detectors.base import Finding, register
from detectors.stats.baselines import RobustBaseline
from detectors.stats.cleaning import value_of
from detectors.sensor_fault import RESOLUTION
from riverwatch.catalog import Station
from riverwatch.model import Level
from riverwatch.state import Slotted


class Params(BaseModel):
    """Parameters of ``change_point``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    method: Literal["page_hinkley", "adwin"] = "page_hinkley"
    threshold: float = Field(30.0, gt=0)
    delta: float = Field(0.5, ge=0)
    adwin_delta: float = Field(0.002, gt=0, lt=1)
    min_instances: int = Field(30, ge=1)
    tau_s: float = Field(24 * 3600.0, gt=0)
    clip: float = Field(8.0, gt=0)


class ChangePoint(Slotted):
    """Change-point detector for one quantity of one station (see the module docstring)."""

    __slots__ = ("quantity", "hazard", "drift", "baseline", "clip", "_seen", "_learnt")

    def __init__(self, quantity: str, params: Params) -> None:
        self.quantity = quantity
        self.hazard = "anomaly"
        if params.method == "adwin":
            self.drift = drift.ADWIN(delta=params.adwin_delta)
        else:
            self.drift = drift.PageHinkley(min_instances=params.min_instances, delta=params.delta,
                                           threshold=params.threshold)
        self.baseline = RobustBaseline(params.tau_s, 2.0 * RESOLUTION.get(quantity, 1e-3))
        self.clip = params.clip
        self._seen: tuple[float, float, float] | None = None  # (t, v, score)
        self._learnt: tuple[float, float] | None = None

    def _advance(self, x) -> float | None:
        v = value_of(x, self.quantity)
        if v is None:
            return None
        t = value_of(x, "t") or 0.0
        if self._seen is not None and self._seen[:2] == (t, v):
            return self._seen[2]
        z = max(-self.clip, min(self.clip, self.baseline.z(v)))
        self.drift.update(z)
        mag = min(abs(z), 10.0)
        score = 1.0 + mag / 10.0 if self.drift.drift_detected else mag / 20.0
        self._seen = (t, v, score)
        return score

    def score_one(self, x) -> float:
        """Spikes above 1 at a detected change; below 0.5 otherwise; 0.0 when absent."""
        score = self._advance(x)
        return 0.0 if score is None else score

    def learn_one(self, x) -> None:
        """Advance the drift detector (if not yet done for this reading) and the baseline."""
        if self._advance(x) is None:
            return
        t, v = self._seen[0], self._seen[1]
        if self._learnt != (t, v):
            self.baseline.update(t, v)
            self._learnt = (t, v)

    def level(self, score: float) -> Level:
        """ADVISORY at a detected change."""
        return Level.ADVISORY if score >= 1.0 else Level.NONE

    def evidence(self, x, score: float) -> Finding:
        """The value at the change and the baseline it departs from."""
        v = value_of(x, self.quantity)
        return Finding("change_point", "anomaly", self.level(score), self.quantity, 0.0 if v is None else v,
                       score, self.baseline.mean if self.baseline.n else None, None, "anomaly.change",
                       (("method", type(self.drift).__name__),))


@register("change_point", params=Params, hazard="anomaly", skip_checks=("state_size",))
def make(station: Station, quantity: str | None, params: Params) -> ChangePoint:
    """``change_point`` for ``quantity`` of ``station``."""
    return ChangePoint(quantity or "", params)
