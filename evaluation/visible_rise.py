"""How long before its crossing a flood wave was visible at the gauge itself: a bound on stage-only lead.

A detector that reads only a gauge's stage cannot warn before the wave shows in it. For each wave
(an event whose reference is the half-rise crossing) this is the time from the last reading that
stood within ``fraction`` of the rise (from the lowest stage of the ``window_s`` before the crossing
up to the stage at the crossing) to the crossing. At 10 % the rise is clear of these gauges' noise;
a warning earlier than that rests on something else (rain, an upstream gauge, a dam release).
A wave whose crossing is the first reading after an outage shows nothing before it: 0.

Examples
--------
>>> import numpy as np
>>> t = np.arange(0.0, 10 * 900.0, 900.0)           # 15-minute readings
>>> h = np.array([1.0, 1.0, 1.0, 1.05, 1.1, 1.6, 2.2, 3.0, 3.5, 3.6])
>>> visible_minutes(t, h, crossing=t[6], fraction=0.1)   # 1.1 m: the last within 10 % of 1.0 → 2.2 m
30.0
>>> visible_minutes(t, h, crossing=t[6], fraction=0.05)
45.0
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: Shares of the rise at which a wave counts as visible (reported side by side).
FRACTIONS = (0.05, 0.1)
#: How far before the crossing the low-water stage is looked for.
WINDOW_S = 86400.0


def visible_minutes(t: np.ndarray, stage: np.ndarray, crossing: float, fraction: float,
                    window_s: float = WINDOW_S) -> float:
    """Minutes from the last reading within ``fraction`` of the rise to ``crossing`` (see the module doc)."""
    inside = (t >= crossing - window_s) & (t <= crossing) & ~np.isnan(stage)
    if not inside.any():
        return math.nan
    times, values = t[inside], stage[inside]
    low, at_crossing = float(values.min()), float(values[-1])
    quiet = values <= low + fraction * (at_crossing - low)
    return float(crossing - times[quiet].max()) / 60.0


def summarise_visible(waves: Sequence[tuple[np.ndarray, np.ndarray, float]],
                      fractions: Sequence[float] = FRACTIONS) -> dict:
    """Per fraction, each wave's visible minutes and their median, for ``(t, stage, crossing)`` waves.

    >>> t = np.arange(0.0, 8 * 900.0, 900.0)
    >>> summarise_visible([(t, np.array([1.0, 1.0, 1.1, 1.5, 2.0, 3.0, 3.2, 3.3]), t[4])], (0.1,))
    {'fraction_0.1': {'median_minutes': 30.0, 'minutes': [30.0]}}
    """
    out = {}
    for fraction in fractions:
        minutes = [visible_minutes(t, h, c, fraction) for t, h, c in waves]
        minutes = [m for m in minutes if not math.isnan(m)]
        out[f"fraction_{fraction:g}"] = {"median_minutes": float(np.median(minutes)) if minutes else None,
                                         "minutes": [round(m, 1) for m in minutes]}
    return out
