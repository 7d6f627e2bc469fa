"""Sensor-fault vocabulary: the faults, their severities, sensor resolutions and the score mapping.

Each fault check of :mod:`detectors.sensor_fault` yields a ratio ``r`` (≥ 1 means flagged); the
score is the worst check, mapped so that its integer part is the level: ``r`` below 1 stays below 1,
a flagged check scores ``severity + min(0.99, (r − 1) / 10)``.

Examples
--------
>>> score("spike", 1.5)
2.05
>>> worse(("none", 0.0, 1.0), ("drift", 2.0, 1.0))[0]
'drift'
>>> round(impossible_ratio(-3.0, 0.0, 100.0), 2)
1.03
"""

from __future__ import annotations

from detectors.stats.cleaning import clamp
from detectors.stats.dry_probe import COND, TURB

FAULTS = ("none", "dropout", "stuck", "drift", "noise", "spike", "cluster", "rate", "dry_probe", "impossible")
SEVERITY = {"dropout": 1, "stuck": 1, "drift": 1, "noise": 1, "spike": 2, "cluster": 1, "rate": 2, "dry_probe": 2,
            "impossible": 3}
#: Faults of a state that lasts: once flagged, the flag holds while the ratio stays ≥ ``release``, so
#: a flapping erratic sensor is one flag and a warning on it cannot slip out between two flags.
LASTING = frozenset({"noise", "drift", "stuck", "dry_probe", "cluster"})
#: Smallest meaningful difference per quantity (sensor resolution), in the canonical unit.
RESOLUTION = {"water_level": 0.002, "discharge": 0.01, "water_temperature": 0.05, "air_temperature": 0.05,
              "dew_point": 0.05, "relative_humidity": 0.5, "air_pressure": 0.1, "wind_speed": 0.1,
              "precipitation": 0.1, "turbidity": 0.05, "conductivity": 1.0, "ph": 0.01, "redox": 1.0,
              "chlorine": 0.005, "dissolved_oxygen": 0.05, "battery": 0.01}
#: Quantities that carry the dry/fouled-probe check (:mod:`detectors.stats.dry_probe`).
DRY_QUANTITIES = frozenset({COND, TURB})
#: Quantities that follow the flow (sediment is carried, solutes diluted): on a sonde that reads the
#: water level too, a hold counts as "stuck" only if the river moved while it held
#: (:mod:`detectors.stats.hold_river`).
FOLLOW_THE_RIVER = frozenset({COND, TURB})
#: Quantities on a ratio scale whose measurement noise grows with the value (the noise check
#: measures their roughness as a fraction of the current level, at least the usual magnitude).
PROPORTIONAL = frozenset({"water_level", "discharge", "turbidity", "conductivity", "chlorine",
                          "precipitation", "wind_speed"})
#: Quantities that *are* the hydrograph: in a flood they move by themselves as far as a sensor spike
#: (:mod:`detectors.stats.river_moves`), so a spike there must beat the river's own recent moves.
HYDROGRAPH = frozenset({"water_level", "discharge"})
#: Quantities measured by light scattered from particles, and the least jump (canonical units) of a
#: *multiple* spike: a reading ``spike_multiple`` × both where the stream was and where it came back
#: is a bubble or debris on the optics whatever the stream's recent noise (natural turbidity does not
#: triple for one reading and fall back). 5 NTU keeps drinking-water turbidity (< 1 NTU) and blips at
#: the bottom of the range out.
MULTIPLE_MIN = {TURB: 5.0}
#: The fastest a hydrograph quantity (stage, discharge) drifts, as a fraction of its size a day: a
#: fouled, silted or settling sensor moves millimetres to centimetres a day; a steady ramp faster
#: than this is the river (a lowland flood rises a few centimetres an hour for days).
DRIFT_MAX_PER_DAY = 0.05
#: Quantities read from an arbitrary datum (a gauge's zero, a national height datum or sea level):
#: their size, for the relative checks, is measured from the datum :func:`datum_of` sets.
ON_A_DATUM = frozenset({"water_level"})
#: How high (m) the lowest held level is taken to stand above the datum at most: a stage over its
#: gauge's zero at low flow is usually less (0.3–2 m on most of our gauges), a height above sea
#: level far more, and that excess says nothing about the river.
BASE_STAGE_MAX = 1.5


def datum_of(floor: float) -> float:
    """The datum a level is sized from, given its lowest held level ``floor``: the floor less
    ``min(|floor|, BASE_STAGE_MAX)``. A stage that keeps within 1.5 m of its gauge's zero is sized as
    before, from 0; on any other datum the low-flow level is sized as 1.5 m plus the rise above it.

    >>> datum_of(0.45), datum_of(102.3), datum_of(-4.7)
    (0.0, 100.8, -6.2)
    """
    if not floor == floor:
        return 0.0
    return floor - min(abs(floor), BASE_STAGE_MAX)


def impossible_ratio(v: float, lo: float, hi: float) -> float:
    """The impossible-value ratio of ``v`` against the plausible range ``[lo, hi]``: 0 inside,
    1 + the distance outside as a fraction of the range width outside."""
    if lo <= v <= hi:
        return 0.0
    return 1.0 + min(abs(v - lo), abs(v - hi)) / (hi - lo + 1e-12)


def worse(a: tuple[str, float, float], b: tuple[str, float, float]) -> tuple[str, float, float]:
    """The worse of two ``(fault, ratio, value concerned)`` findings (``a`` on a tie)."""
    return b if score(b[0], b[1]) > score(a[0], a[1]) else a


def score(fault: str, ratio: float) -> float:
    """The score of ``fault`` at ``ratio``: below 1 unflagged, else severity plus a fraction."""
    if fault == "none" or not ratio > 0:
        return 0.0
    if ratio < 1.0:
        return clamp(ratio)
    return SEVERITY[fault] + min(0.99, (ratio - 1.0) / 10.0)


def fault_of(score_value: float) -> str:
    """The fault a bare score implies when the finding itself is not at hand."""
    return {1: "dropout", 2: "spike", 3: "impossible"}.get(int(score_value), "none")
