"""Water-quality events: several quantities departing together from their recent baseline.

Each watched quantity has a robust baseline (EWMA location and mean absolute deviation with
winsorised updates, time constant ``tau_s``, floored at the sensor's resolution). The score is the
``k``-th largest absolute robust z-score: it is high only when at least ``k`` quantities depart
at once, so a contamination plume moving turbidity, conductivity and pH scores high while one
noisy sensor does not. One stream per station (``applies`` → ``[None]``), hazard ``water_quality``.

Examples
--------
>>> from detectors.base import example_station
>>> st = example_station(["turbidity", "conductivity", "ph"], kind="water_quality")
>>> det = make(st, None, Params())
>>> for i in range(100):
...     x = {"t": i * 600.0, "turbidity": 3 + 0.1 * (i % 3), "conductivity": 400 + i % 5, "ph": 7.5}
...     _ = det.score_one(x); det.learn_one(x)
>>> one = {"t": 6e4, "turbidity": 40.0, "conductivity": 402.0, "ph": 7.5}
>>> three = {"t": 6e4, "turbidity": 40.0, "conductivity": 700.0, "ph": 6.6}
>>> det.score_one(one) < 3 < det.score_one(three)
True
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding, register
from detectors.stats.baselines import RobustBaseline
from detectors.stats.cleaning import clamp, value_of
from detectors.stats.gates import Gated, LevelGate, readings_within
from detectors.stats.windows import shortest_interval
from detectors.sensor_fault import RESOLUTION
from riverwatch.catalog import Station

WATCHED = ("turbidity", "conductivity", "ph", "redox", "chlorine", "dissolved_oxygen")


class Params(BaseModel):
    """Parameters of ``water_quality_event``.

    k
        How many quantities must depart together.
    tau_s
        Time constant of the baselines.
    levels
        Scores (k-th largest |z|) for advisory, watch, warning, emergency.
    depart_z
        |z| from which a quantity is listed as departing in the evidence.
    warmup
        Readings before scoring.
    persist_readings, persist_s
        Persistence of a level (see level_threshold).
    persist_max_s
        No more of those readings than arrive within this long of the first at the station's usual
        interval, and at least one (0: no bound; see :func:`~detectors.stats.gates.readings_within`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    quantities: tuple[str, ...] = WATCHED
    k: int = Field(2, ge=1)
    tau_s: float = Field(12 * 3600.0, gt=0)
    levels: tuple[float, float, float, float] = (5.0, 10.0, 20.0, 40.0)
    depart_z: float = Field(4.0, gt=0)
    warmup: int = Field(30, ge=2)
    persist_readings: int = Field(2, ge=1)
    persist_s: float = Field(0.0, ge=0)
    persist_max_s: float = Field(450.0, ge=0)


class WaterQualityEvent(Gated):
    """Multivariate water-quality event detector for one station (see the module docstring)."""

    __slots__ = ("quantities", "hazard", "baselines", "k", "levels", "depart_z", "warmup", "n", "gate",
                 "_memo", "_cache", "persist", "persist_max_s", "t", "interval")
    #: Added with persistence bounded in time (``persist`` None: the gate's readings, see _upgrade).
    slot_defaults = {"persist": None, "persist_max_s": Params().persist_max_s, "t": None, "interval": 0.0}

    def __init__(self, quantities: tuple[str, ...], params: Params) -> None:
        self.quantities = quantities
        self.hazard = "water_quality"
        self.baselines = tuple(RobustBaseline(params.tau_s, 2.0 * RESOLUTION.get(q, 1e-3))
                               for q in quantities)
        self.k = params.k
        self.levels = params.levels
        self.depart_z = params.depart_z
        self.warmup = params.warmup
        self.n = 0
        self.gate = LevelGate(params.persist_readings, params.persist_s)
        self.persist, self.persist_max_s = params.persist_readings, params.persist_max_s
        self.t: float | None = None
        self.interval = 0.0                 # seconds between readings (the shortest lately)
        self._cache = (None, 0.0, 0)
        self._memo = None

    def zscores(self, x) -> list[tuple[float, str, float]]:
        """``(|z|, quantity, value)`` of every watched quantity present in ``x``."""
        out = []
        for q, b in zip(self.quantities, self.baselines):
            v = value_of(x, q)
            if v is not None and b.n >= self.warmup:
                out.append((abs(b.z(v)), q, v))
        return out

    def _key(self, x):
        return tuple(x.get(q) for q in ("t",) + self.quantities)

    def _measure(self, x):
        zs = self.zscores(x)
        if len(zs) < self.k:
            return (0.0, 0, 0) if any(value_of(x, q) is not None for q in self.quantities) else None
        zs.sort(reverse=True)
        score = clamp(zs[self.k - 1][0])
        lvl = self._level_of(score)
        return score, lvl, lvl

    def _level_of(self, score: float) -> int:
        return sum(1 for th in self.levels if score >= th)

    def _commit(self, x) -> None:
        t = value_of(x, "t") or 0.0
        if self.t is not None and t > self.t:
            self.interval = shortest_interval(self.interval, t - self.t)
            self.gate.readings = readings_within(self.persist, self.persist_max_s, self.interval)
        self.t = t
        for q, b in zip(self.quantities, self.baselines):
            v = value_of(x, q)
            if v is not None:
                b.update(t, v)

    def _upgrade(self, version: int, missing: frozenset[str]) -> None:
        if self.persist is None:            # a checkpoint from before persistence in time
            self.persist = self.gate.readings

    def evidence(self, x, score: float) -> Finding:
        """The most departing quantity, its baseline, and all quantities departing with it."""
        means = {q: b.mean for q, b in zip(self.quantities, self.baselines) if b.n}
        return departure_finding("water_quality_event", self.level(score), score, self.zscores(x),
                                 self.depart_z, means, self.quantities)


def departure_finding(detector: str, level, score: float, zscores: list[tuple[float, str, float]],
                      depart_z: float, means: dict[str, float], quantities: tuple[str, ...]) -> Finding:
    """Evidence of a multivariate departure: the top quantity, its baseline, who departs with it.

    >>> departure_finding("d", 2, 7.5, [(7.5, "turbidity", 80.0), (6.0, "ph", 6.1), (1.0, "redox", 300.0)],
    ...                   5.0, {"turbidity": 4.0}, ("turbidity", "ph", "redox")).details
    (('quantities', 'turbidity,ph'), ('z', 'turbidity=7.5,ph=6.0,redox=1.0'))
    """
    zs = sorted(zscores, reverse=True)
    _, top_q, top_v = zs[0] if zs else (0.0, quantities[0] if quantities else "", 0.0)
    departing = [q for z, q, _ in zs if z >= depart_z]
    return Finding(detector, "water_quality", level, top_q, top_v, score, means.get(top_q), None,
                   "water_quality.event", (("quantities", ",".join(departing)),
                                           ("z", ",".join(f"{q}={z:.1f}" for z, q, _ in zs[:4]))))


def streams_for(watched: tuple[str, ...]):
    """``applies`` for a station-wide detector: one stream per water-quality station measuring
    at least two of ``watched``."""

    def applies(station: Station, params: Any = None) -> list[str | None]:
        n = sum(1 for q in watched if q in station.quantities)
        return [None] if station.kind == "water_quality" and n >= 2 else []

    return applies


station_stream = streams_for(WATCHED)


@register("water_quality_event", params=Params, hazard="water_quality", applies=station_stream)
def make(station: Station, quantity: str | None, params: Params) -> WaterQualityEvent:
    """``water_quality_event`` for the station (quantity is ignored: one stream per station)."""
    watched = tuple(q for q in params.quantities if q in station.quantities)
    return WaterQualityEvent(watched, params)
