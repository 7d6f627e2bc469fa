"""Event-level metrics of raised warnings: precision, recall, F1, lead time and false warnings per day.

An event (a labelled window ``[start, end]``) is *detected* when a warning is raised inside it or
within ``lead_window`` seconds before its start; its lead time is ``reference − first such warning``
(positive = early; the reference is the window start, or the first half-rise crossing for USGS).
A warning outside every event (and its lead window) is *false*.

``precision = detected events / (detected events + false warnings)`` (several warnings in one event
count once), ``recall = detected / events``, F1 their harmonic mean; lead times in minutes (median and
10th percentile, i.e. the early warning nine events in ten get at least); false warnings per day over
the replayed span. Series marked ``quiet`` (no event expected) report their warnings separately too.

Examples
--------
>>> from detectors.evaluate.datasets import Event
>>> m = event_metrics([([Event(1000.0, 2000.0, 1000.0)], [400.0, 1500.0, 5000.0], 1.0, False)],
...                   lead_window=900.0)
>>> m.detected, m.false_warnings, m.precision, m.lead_time_median_minutes
(1, 1, 0.5, 10.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from detectors.evaluate.datasets import Event


@dataclass(frozen=True, slots=True)
class EventMetrics:
    """Event-level scores of a set of series (``None`` where a figure is undefined)."""

    events: int
    detected: int
    warnings: int
    false_warnings: int
    quiet_warnings: int
    days: float
    precision: float | None
    recall: float | None
    f1: float | None
    lead_time_median_minutes: float | None
    lead_time_p10_minutes: float | None
    false_warnings_per_day: float | None
    lead_times_minutes: tuple[float, ...]

    def as_dict(self) -> dict:
        """Plain JSON-ready dict (lead times rounded to 0.1 min)."""
        out = asdict(self)
        out["lead_times_minutes"] = [round(v, 1) for v in self.lead_times_minutes]
        return out


def match_events(events: Sequence[Event], warning_times: Sequence[float], lead_window: float
                 ) -> tuple[list[float | None], int]:
    """Lead time (s) of each event (None when missed) and the number of false warnings.

    >>> match_events([Event(100.0, 200.0, 100.0)], [50.0, 150.0, 300.0], lead_window=60.0)
    ([50.0], 1)
    """
    leads: list[float | None] = []
    matched = set()
    for ev in events:
        inside = [k for k, w in enumerate(warning_times) if ev.start - lead_window <= w <= ev.end]
        matched.update(inside)
        leads.append(ev.reference - warning_times[inside[0]] if inside else None)
    return leads, len(warning_times) - len(matched)


def event_metrics(items: Iterable[tuple[Sequence[Event], Sequence[float], float, bool]],
                  lead_window: float) -> EventMetrics:
    """Metrics over ``(events, sorted warning times, days, quiet)`` per series."""
    n_events = detected = warnings = false = quiet_warnings = 0
    days = 0.0
    leads: list[float] = []
    for events, times, span_days, quiet in items:
        times = sorted(times)
        lead, n_false = match_events(events, times, lead_window)
        n_events += len(events)
        detected += sum(x is not None for x in lead)
        leads.extend(x / 60.0 for x in lead if x is not None)
        warnings += len(times)
        false += n_false
        quiet_warnings += len(times) if quiet else 0
        days += span_days
    precision = _ratio(detected, detected + false)
    recall = _ratio(detected, n_events)
    f1 = (2 * precision * recall / (precision + recall)
          if precision is not None and recall is not None and precision + recall > 0 else
          (0.0 if precision is not None and recall is not None else None))
    return EventMetrics(
        n_events, detected, warnings, false, quiet_warnings, round(days, 3), precision, recall, f1,
        float(np.median(leads)) if leads else None,
        float(np.percentile(leads, 10)) if leads else None,
        _ratio(false, days), tuple(leads))


def _ratio(num: float, den: float) -> float | None:
    return None if den <= 0 or math.isnan(den) else num / den
