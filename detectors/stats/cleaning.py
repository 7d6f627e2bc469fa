"""Clean inputs and outputs: finite values out of a reading set, scores clamped to a finite range.

Examples
--------
>>> value_of({"t": 0.0, "water_level": 2.0}, "water_level")
2.0
>>> value_of({"t": 0.0, "water_level": float("nan")}, "water_level") is None
True
>>> time_of({"water_level": 2.0}), clamp(float("inf")), clamp(float("nan"))
(0.0, 1000000000000.0, 0.0)
"""

from __future__ import annotations

import math
from typing import Mapping

#: Scores are clamped to this magnitude so they stay finite and JSON/Influx friendly.
SCORE_LIMIT = 1.0e12


def value_of(x: Mapping[str, float], quantity: str | None) -> float | None:
    """The finite value of ``quantity`` in ``x``, or None when absent or not a finite number."""
    v = x.get(quantity) if quantity is not None else None
    if v is None or v.__class__ is bool:
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def time_of(x: Mapping[str, float]) -> float:
    """``x["t"]`` as a finite float (0.0 when missing or broken)."""
    t = value_of(x, "t")
    return 0.0 if t is None else t


def clamp(score: float) -> float:
    """Clamp a score into ``[-SCORE_LIMIT, SCORE_LIMIT]``; NaN becomes 0.0."""
    if score != score:
        return 0.0
    return max(-SCORE_LIMIT, min(SCORE_LIMIT, score))
