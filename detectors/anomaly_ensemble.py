"""``anomaly_ensemble``: ``adaptive_anomaly`` and ``context_anomaly`` on one stream, the larger score wins.

The two see different things: ``adaptive_anomaly`` how improbable a reading is against the stream's
learnt level and spread, ``context_anomaly`` whether the reading's place in the range, after the
last few, was ever seen before. The score is ``max(adaptive, weight · context)`` on adaptive's scale,
so the levels are adaptive's (``weight`` 0.8: a context score of 6 facts in 9 unpredicted reaches
adaptive's threshold 0.5). Each part keeps its own probation and hold; ``probation`` sets both.
Cost: the sum of the parts (about 20 µs per reading).

Examples
--------
>>> from detectors.base import example_station, get
>>> st = example_station(["water_level"])
>>> det = get("anomaly_ensemble").build(st, "water_level", {"probation": 200})
>>> scores = []
>>> for i in range(604):                       # a repeating pattern, then a break: 1, 2, 3, 3
...     x = {"t": 1.7e9 + 300 * i, "water_level": [1.0, 2.0, 3.0, 2.0][i % 4] if i < 603 else 3.0}
...     scores.append(det.score_one(x))
...     det.learn_one(x)
>>> max(scores[:603]) < 0.5, scores[-1]       # adaptive sees nothing, context everything: 0.8 × 1
(True, 0.8)
>>> det.evidence(x, scores[-1]).details[0]
('part', 'context_anomaly')
"""

from __future__ import annotations

import dataclasses

from pydantic import BaseModel, ConfigDict, Field

from detectors import adaptive_anomaly, context_anomaly
from detectors.base import Finding, X, register
from riverwatch.catalog import Station
from riverwatch.model import Level
from riverwatch.state import Slotted


class Params(BaseModel):
    """Parameters of ``anomaly_ensemble``: the weight of the context score and each part's own."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    probation: int | None = Field(None, ge=0, description="readings scored 0 by both parts (None: theirs)")
    weight: float = Field(0.8, gt=0, le=1, description="context score × weight competes with adaptive's")
    adaptive: adaptive_anomaly.Params = Field(default_factory=adaptive_anomaly.Params,
                                              description="parameters of the adaptive_anomaly part")
    context: context_anomaly.Params = Field(default_factory=context_anomaly.Params,
                                            description="parameters of the context_anomaly part")


class AnomalyEnsemble(Slotted):
    """The two parts of one quantity and the weight; see the module docstring."""

    __slots__ = ("quantity", "weight", "adaptive", "context", "_pending", "_learnt")
    transient_slots = frozenset({"_pending", "_learnt"})      # the reading in hand, the one just learnt
    slot_defaults = {"_pending": None, "_learnt": None}

    def __init__(self, quantity: str, params: Params) -> None:
        adaptive, context = params.adaptive, params.context
        if params.probation is not None:
            adaptive = adaptive.model_copy(update={"probation": params.probation})
            context = context.model_copy(update={"probation": params.probation})
        self.quantity, self.weight = quantity, params.weight
        self.adaptive = adaptive_anomaly.AdaptiveAnomaly(quantity, adaptive)
        self.context = context_anomaly.ContextAnomaly(quantity, context)
        self._pending: tuple | None = None
        self._learnt: tuple | None = None

    def score_one(self, x: X) -> float:
        """``max(adaptive, weight · context)`` of ``x``, in [0, 1]."""
        return self._parts(x)[0]

    def learn_one(self, x: X) -> None:
        """Both parts learn ``x``."""
        learnt = (x, self._parts(x))
        self.adaptive.learn_one(x)
        self.context.learn_one(x)
        self._pending, self._learnt = None, learnt

    def level(self, score: float) -> Level:
        """The level of ``adaptive_anomaly`` for this score (the ensemble speaks its scale)."""
        return self.adaptive.level(score)

    def evidence(self, x: X, score: float) -> Finding:
        """The evidence of the part behind the score (of ``x`` as scored, also once learnt), under this
        detector's name and level."""
        learnt = self._learnt
        _, a, c = learnt[1] if learnt is not None and learnt[0] is x else self._parts(x)
        part = self.adaptive if a >= self.weight * c else self.context
        found = part.evidence(x, a if part is self.adaptive else c)
        return dataclasses.replace(found, detector="anomaly_ensemble", level=self.level(score), score=score,
                                   threshold=self.adaptive.threshold,
                                   details=(("part", found.detector), *found.details))

    def _parts(self, x: X) -> tuple[float, float, float]:
        """(score, adaptive score, context score) of ``x``, cached for the ``learn_one`` that follows."""
        pending = self._pending
        if pending is not None and pending[0] is x:
            return pending[1]
        a, c = self.adaptive.score_one(x), self.context.score_one(x)
        parts = (max(a, self.weight * c), a, c)
        self._pending = (x, parts)
        return parts


@register("anomaly_ensemble", params=Params, hazard="anomaly", skip_checks=("state_size",))
def make(station: Station, quantity: str | None, params: Params) -> AnomalyEnsemble:
    """One ensemble per quantity of the station."""
    return AnomalyEnsemble(quantity or next(iter(station.quantities)), params)
