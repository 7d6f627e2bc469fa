"""Catalog thresholds with hysteresis and persistence: the plain, trusted flood/quality/weather stage.

Score is the value relative to the least severe threshold (1.0 = at the threshold; for a
``below`` quantity such as dissolved oxygen the scale is mirrored, so higher is always worse).
The level reported needs ``persist_readings`` consecutive readings (or ``persist_s`` seconds)
beyond a threshold, and falls back only once the value is ``hysteresis`` (a fraction of the
threshold) back on the safe side, so a value hovering at a threshold does not flap.

Examples
--------
>>> from detectors.base import example_station
>>> st = example_station({"water_level": {"levels": {"watch": 2.5, "warning": 3.0}}})
>>> det = make(st, "water_level", Params())
>>> for t, v in enumerate([2.0, 2.6, 2.7, 2.45, 2.6]):
...     x = {"t": t * 600.0, "water_level": v}
...     s = det.score_one(x); det.learn_one(x)
...     print(round(s, 2), det.level(s).name)
0.8 NONE
1.04 NONE
1.08 WATCH
0.98 WATCH
1.04 WATCH
>>> det.evidence({"t": 2400.0, "water_level": 2.6}, 1.04).threshold
2.5
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding, register
from detectors.stats.cleaning import clamp, time_of, value_of
from detectors.stats.gates import LevelGate
from detectors.stats.levels import LEVEL_OF, catalog_levels, hazard_for
from riverwatch.catalog import Station
from riverwatch.model import Level
from riverwatch.state import Slotted


class Params(BaseModel):
    """Parameters of ``level_threshold``.

    hysteresis
        Fraction of a threshold the value must fall back (rise back for ``below``) before the
        level is lowered.
    persist_readings, persist_s
        A new level is reported after this many consecutive readings beyond it, or once two or
        more such readings span this many seconds, whichever comes first.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    hysteresis: float = Field(0.05, ge=0.0, lt=1.0)
    persist_readings: int = Field(3, ge=1)
    persist_s: float = Field(600.0, ge=0.0)


#: Quantities whose levels another detector owns: ``precipitation`` is a per-reading amount, its
#: levels are mm in 1 h of a rolling accumulation (``rainfall``), never compared with one reading.
OWNED_ELSEWHERE = frozenset({"precipitation"})


def with_levels(station: Station, params: Params | None = None) -> list[str | None]:
    """Streams of ``level_threshold``: the quantities the catalog gives thresholds for (but
    :data:`OWNED_ELSEWHERE`)."""
    return [q for q, spec in station.quantities.items() if spec.levels and q not in OWNED_ELSEWHERE]


class LevelThreshold(Slotted):
    """Threshold detector for one quantity of one station (see the module docstring)."""

    __slots__ = ("quantity", "hazard", "sign", "levels", "base", "unit", "hyst", "gate", "_cache")

    def __init__(self, quantity: str, levels: tuple[tuple[Level, float], ...], direction: str,
                 params: Params) -> None:
        self.quantity = quantity
        self.hazard = hazard_for(quantity)
        self.sign = 1.0 if direction == "above" else -1.0
        self.levels = tuple((int(lvl), th) for lvl, th in levels)
        self.base = self.levels[0][1] if self.levels else 0.0
        self.unit = abs(self.base) or 1.0
        self.hyst = params.hysteresis
        self.gate = LevelGate(params.persist_readings, params.persist_s)
        self._cache = (None, 0.0, 0)  # (t, score, gated level) of the last score_one

    # -- scoring ---------------------------------------------------------------------------------
    def _score(self, v: float) -> float:
        return clamp(1.0 + self.sign * (v - self.base) / self.unit)

    def _raw_levels(self, v: float) -> tuple[int, int]:
        """(level by the thresholds, level the hysteresis-relaxed thresholds still hold)."""
        up = hold = 0
        s, h = self.sign, self.hyst
        for lvl, th in self.levels:
            if s * (v - th) >= 0:
                up = lvl
            if s * (v - th) >= -h * (abs(th) or 1.0):
                hold = lvl
        return up, hold

    def score_one(self, x) -> float:
        """Value relative to the least severe threshold (0.0 when the quantity is absent)."""
        v = value_of(x, self.quantity)
        if v is None or not self.levels:
            return 0.0
        score = self._score(v)
        t = time_of(x)
        up, hold = self._raw_levels(v)
        self._cache = (t, score, self.gate.peek(t, up, hold)[0])
        return score

    def learn_one(self, x) -> None:
        """Advance persistence and hysteresis with the value in ``x``."""
        v = value_of(x, self.quantity)
        if v is None or not self.levels:
            return
        up, hold = self._raw_levels(v)
        t = time_of(x)
        self._cache = (t, self._score(v), self.gate.advance(t, up, hold))

    def level(self, score: float) -> Level:
        """The gated level of the reading just scored (or learnt); stateless for other scores."""
        t, cached, gated = self._cache
        if t is not None and score == cached:
            return LEVEL_OF[gated]
        v = self.base + self.sign * (score - 1.0) * self.unit
        return LEVEL_OF[self._raw_levels(v)[0]]

    def evidence(self, x, score: float) -> Finding:
        """The threshold behind the current level (the least severe one while quiet)."""
        v = value_of(x, self.quantity)
        lvl = self.level(score)
        threshold = dict(self.levels).get(int(lvl), self.base) if self.levels else None
        direction = "above" if self.sign > 0 else "below"
        return Finding("level_threshold", self.hazard, lvl, self.quantity, 0.0 if v is None else v,
                       score, threshold, None, f"threshold.{direction}",
                       (("direction", direction), ("hysteresis", f"{self.hyst:g}")))


@register("level_threshold", params=Params, hazard="flood", applies=with_levels)
def make(station: Station, quantity: str | None, params: Params) -> LevelThreshold:
    """``level_threshold`` for ``quantity`` of ``station`` (its hazard follows the quantity)."""
    spec = station.quantities.get(quantity) if quantity else None
    direction = spec.direction if spec is not None else "above"
    return LevelThreshold(quantity or "", catalog_levels(spec), direction, params)
