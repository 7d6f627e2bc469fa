"""Event-level metrics of raised warnings: precision, recall, F1, lead time and false warnings per day.

An event (a labelled window ``[start, end]``) is *detected* when a warning is raised inside it or
within ``lead_window`` seconds before its start (but after the end of the series' previous event: one
wave's warning is not the next wave's early warning); its lead time is ``reference − first such warning``
(positive = early; the reference is the window start, or the first half-rise crossing for USGS).
A warning outside every event (and its lead window) is *false*.

``precision = detected events / (detected events + false warnings)`` (several warnings in one event
count once), ``recall = detected / events``, F1 their harmonic mean; lead times in minutes (median and
10th percentile, i.e. the early warning nine events in ten get at least); false warnings per day over
the replayed span. Series marked ``quiet`` (no event expected) report their warnings separately too.
With the warnings' end times (floods), a warning is credited to an event only when it is still open at
the event's reference (the crossing) or was opened at most ``lead_window`` before it (or inside the
event): an alarm days before, long cleared, is not lead time.
:func:`rain_precursor` scores rain warnings as early signs of the flood waves of the same event, apart.

Examples
--------
>>> from evaluation.datasets import Event
>>> m = event_metrics([([Event(1000.0, 2000.0, 1000.0)], [400.0, 1500.0, 5000.0], 1.0, False)],
...                   lead_window=900.0)
>>> m.detected, m.false_warnings, m.precision, m.lead_time_median_minutes
(1, 1, 0.5, 10.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence

import numpy as np

from evaluation.credit import credit_open
from evaluation.datasets import Event, Series
from riverwatch.model import Level


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


def match_events(events: Sequence[Event], warning_times: Sequence[float], lead_window: float,
                 ends: Sequence[float] | None = None) -> tuple[list[float | None], int]:
    """Lead time (s) of each event (None when missed) and the number of false warnings.

    >>> match_events([Event(100.0, 200.0, 100.0)], [50.0, 150.0, 300.0], lead_window=60.0)
    ([50.0], 1)

    The lead window of an event does not reach back past the end of the event before it: a
    warning of the first wave is not also the early warning of the second.

    >>> match_events([Event(100.0, 200.0, 100.0), Event(250.0, 300.0, 250.0)], [150.0, 270.0], 1000.0)
    ([-50.0, -20.0], 0)

    With ``ends`` (each warning's end, aligned with ``warning_times``) see :func:`evaluation.credit.credit_open`.
    """
    if ends is not None:
        return credit_open(events, warning_times, ends, lead_window)
    leads: list[float | None] = []
    matched = set()
    previous_end = -math.inf
    for ev in sorted(events, key=lambda e: e.start):
        lo = max(ev.start - lead_window, previous_end)
        previous_end = max(previous_end, ev.end)
        inside = [k for k, w in enumerate(warning_times) if lo <= w <= ev.end and (w > lo or lo == ev.start - lead_window)]
        matched.update(inside)
        leads.append(ev.reference - warning_times[inside[0]] if inside else None)
    return leads, len(warning_times) - len(matched)


def event_metrics(items: Iterable[tuple], lead_window: float) -> EventMetrics:
    """Metrics over ``(events, warning times, days, quiet)`` per series.

    An item may carry a fifth element, the warnings' end times (aligned with the raise times): the
    events are then matched with :func:`credit_open` (floods).
    """
    n_events = detected = warnings = false = quiet_warnings = 0
    days = 0.0
    leads: list[float] = []
    for events, times, span_days, quiet, *rest in items:
        ends = rest[0] if rest and rest[0] is not None else None
        if ends is None:
            times = sorted(times)
        lead, n_false = match_events(events, times, lead_window, ends)
        n_events += len(events)
        detected += sum(x is not None for x in lead)
        leads.extend(x / 60.0 for x in lead if x is not None)
        warnings += len(times)
        false += n_false
        quiet_warnings += len(times) if quiet else 0
        days += span_days
    precision = ratio(detected, detected + false)
    recall = ratio(detected, n_events)
    f1 = (2 * precision * recall / (precision + recall)
          if precision is not None and recall is not None and precision + recall > 0 else
          (0.0 if precision is not None and recall is not None else None))
    return EventMetrics(
        n_events, detected, warnings, false, quiet_warnings, round(days, 3), precision, recall, f1,
        float(np.median(leads)) if leads else None,
        float(np.percentile(leads, 10)) if leads else None,
        ratio(false, days), tuple(leads))


def ratio(num: float, den: float) -> float | None:
    """``num / den``, None when the denominator is not positive (or NaN).

    >>> ratio(1, 4), ratio(1, 0)
    (0.25, None)
    """
    return None if den <= 0 or math.isnan(den) else num / den


# --- rain as a flood precursor ---------------------------------------------------------------------

def utc(t: float | None) -> str | None:
    """``YYYY-MM-DD HH:MM`` (UTC) of epoch seconds, None for None.

    >>> utc(1382590800.0)
    '2013-10-24 05:00'
    """
    return None if t is None else datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def level_rises(t: np.ndarray, levels: np.ndarray) -> list[tuple[float, int, bool]]:
    """``(time, level, raised)`` of every row whose level is above the row before: a warning raised
    (from NONE, ``raised``) or escalated.

    >>> level_rises(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]), np.array([0, 1, 1, 3, 0, 2]))
    [(1.0, 1, True), (3.0, 3, False), (5.0, 2, True)]
    """
    lv = np.asarray(levels, dtype=int)
    before = np.r_[0, lv[:-1]]
    return [(float(t[i]), int(lv[i]), bool(before[i] == 0)) for i in np.flatnonzero(lv > before).tolist()]


def rain_precursor(river: Sequence[Series], rain: Sequence[tuple[Series, np.ndarray]],
                   window_s: float = 86400.0) -> dict:
    """How well rain warnings precede the flood waves of the same event (``Series.category``).

    ``river`` are the gauges with their waves (``events``; a wave's crossing is its ``reference``),
    ``rain`` the weather series with the level of their rain warnings per row. Per event: the first
    rain warning (time, level, station), the earliest crossing of any gauge, the lead of the one over
    the other (minutes, positive = rain first), the rain warnings raised and the highest level.

    A wave *has a rain warning* when one was raised or escalated in ``[crossing − window_s,
    crossing]``. Rain is unknown where not reported: a wave whose window holds no reported hour of
    any weather station of its event (no weather file, or the record ends before) is not counted
    (``rain_warning_24h`` None), neither as warned nor as missed. ``quiet_rain_warnings`` are the
    rain warnings raised in quiet events (no flood wave there).

    Examples
    --------
    >>> from evaluation.datasets import synthetic_station
    >>> gauge = Series("g.csv", "ev", synthetic_station("g", ["water_level"]), np.arange(4) * 3600.0,
    ...                {"water_level": np.zeros(4)}, (Event(3 * 3600.0, 3 * 3600.0, 3 * 3600.0),))
    >>> wx = Series("w.csv", "ev", synthetic_station("w", ["precipitation"], kind="weather"),
    ...             np.arange(4) * 3600.0, {"precipitation": np.array([0.0, 30.0, 20.0, 0.0])})
    >>> p = rain_precursor([gauge], [(wx, np.array([0, 1, 2, 0]))])
    >>> e = p["events"][0]
    >>> e["first_rain_warning_level"], e["rain_lead_minutes"], p["waves_with_rain_warning_24h"]
    ('ADVISORY', 120.0, 1)
    """
    names = sorted({s.category for s in river} | {s.category for s, _ in rain})
    events, detail = [], []
    for name in names:
        gauges = [s for s in river if s.category == name]
        stations = [(s, lv) for s, lv in rain if s.category == name]
        rises = sorted((time, level, raised, _stem(s)) for s, lv in stations
                       for time, level, raised in level_rises(s.t, lv))
        raises = [r for r in rises if r[2]]
        waves = sorted((ev.reference, _stem(s)) for s in gauges for ev in s.events)
        rows = [_wave_row(name, crossing, gauge, [s for s, _ in stations], rises, window_s)
                for crossing, gauge in waves]
        detail += rows
        known = [row for row in rows if row["rain_warning_24h"] is not None]
        first = raises[0] if raises else None
        earliest = waves[0] if waves else None
        events.append({
            "event": name, "quiet": any(s.quiet for s in gauges) or any(s.quiet for s, _ in stations),
            "weather_stations": [_stem(s) for s, _ in stations],
            "first_rain_warning_utc": utc(first[0]) if first else None,
            "first_rain_warning_level": Level(first[1]).name if first else None,
            "first_rain_warning_station": first[3] if first else None,
            "highest_rain_level": Level(max((r[1] for r in rises), default=0)).name,
            "earliest_crossing_utc": utc(earliest[0]) if earliest else None,
            "earliest_crossing_station": earliest[1] if earliest else None,
            "rain_lead_minutes": round((earliest[0] - first[0]) / 60.0, 1) if first and earliest else None,
            "rain_warnings": len(raises), "rain_escalations": len(rises) - len(raises),
            "waves": len(waves), "waves_with_weather": len(known),
            "waves_with_rain_warning_24h": sum(row["rain_warning_24h"] for row in known)})
    return {
        "window_hours": window_s / 3600.0, "events": events,
        "waves": sum(e["waves"] for e in events),
        "waves_with_weather": sum(e["waves_with_weather"] for e in events),
        "waves_with_rain_warning_24h": sum(e["waves_with_rain_warning_24h"] for e in events),
        "rain_warnings": sum(e["rain_warnings"] for e in events),
        "quiet_rain_warnings": sum(e["rain_warnings"] for e in events if e["quiet"]),
        "wave_detail": detail}


def _wave_row(event: str, crossing: float, gauge: str, weather: Sequence[Series], rises, window_s: float) -> dict:
    """One wave: was rain reported in its window, and the first rain warning (rise) there."""
    lo = crossing - window_s
    reported = any(np.isfinite(col[(s.t >= lo) & (s.t <= crossing)]).any()
                   for s in weather for col in s.columns.values())
    inside = [r for r in rises if lo <= r[0] <= crossing]
    return {"event": event, "station": gauge, "crossing_utc": utc(crossing),
            "rain_warning_24h": bool(inside) if reported else None,
            "rain_lead_minutes": round((crossing - inside[0][0]) / 60.0, 1) if inside and reported else None}


def _stem(series: Series) -> str:
    return series.name.removesuffix(".csv")


# --- replayed history against the warnings production raised -------------------------------------

@dataclass(frozen=True, slots=True)
class WarningSpan:
    """One warning's life as the history comparison sees it (epoch seconds).

    ``ended`` is None while the warning is still open at the end of the span; ``level`` is the
    highest level it reached, ``public`` whether it was public at any step; ``upstream`` names the
    station whose warning raised it when it was raised by propagation (empty otherwise).
    """

    id: str
    hazard: str
    raised: float
    ended: float | None = None
    level: int = 0
    public: bool = False
    detector: str = ""
    quantity: str = ""
    upstream: str = ""


#: The headline figures of a history comparison, in print order.
HISTORY_KEYS = ("production_warnings", "candidate_warnings", "matched", "earlier_minutes_median", "extra", "missed")


def match_warnings(production: Sequence[WarningSpan], candidate: Sequence[WarningSpan], window_s: float
                   ) -> tuple[list[tuple[WarningSpan, WarningSpan | None]], list[WarningSpan]]:
    """Pair each production warning with the candidate warning of the same hazard that covers it.

    A candidate warning *covers* a production warning when it is open at some time between
    ``window_s`` before the production raise (but not before the end of the previous production
    warning of the hazard) and the production warning's end; the earliest raised unpaired one is
    taken, and pairs at most once. Returns the pairs (candidate None: missed), in production order,
    and the unpaired candidate warnings (extra).

    >>> p = [WarningSpan("p1", "flood", 3600.0, 7200.0)]
    >>> c = [WarningSpan("c1", "flood", 2100.0, 7000.0), WarningSpan("c2", "flood", 9e4)]
    >>> pairs, extra = match_warnings(p, c, window_s=600.0)
    >>> [(a.id, b.id) for a, b in pairs], [w.id for w in extra]
    ([('p1', 'c1')], ['c2'])
    """
    order = sorted(range(len(candidate)), key=lambda k: (candidate[k].raised, candidate[k].id))
    used: set[int] = set()
    pairs: list[tuple[WarningSpan, WarningSpan | None]] = []
    for hazard in sorted({w.hazard for w in production}):
        previous_end = -math.inf
        for p in sorted((w for w in production if w.hazard == hazard), key=lambda w: (w.raised, w.id)):
            lo = max(p.raised - window_s, previous_end)
            hi = math.inf if p.ended is None else p.ended
            previous_end = max(previous_end, hi)
            hit = next((k for k in order if k not in used and candidate[k].hazard == hazard
                        and candidate[k].raised <= hi
                        and (math.inf if candidate[k].ended is None else candidate[k].ended) >= lo), None)
            if hit is not None:
                used.add(hit)
            pairs.append((p, None if hit is None else candidate[hit]))
    pairs.sort(key=lambda pair: (pair[0].raised, pair[0].id))
    return pairs, [candidate[k] for k in order if k not in used]


def history_metrics(production: Sequence[WarningSpan], candidate: Sequence[WarningSpan],
                    window_s: float) -> dict:
    """Production's warnings against a candidate's over the same readings (see :func:`match_warnings`).

    ``earlier_minutes`` of a pair is production raise − candidate raise (positive: the candidate
    warned earlier); ``extra`` are candidate warnings covering no production warning, ``missed``
    production warnings no candidate warning covers; ``public_differs`` counts pairs where one side
    was public and the other a held or maintenance notice. ``pairs`` lists every warning of both.

    Examples
    --------
    >>> p = [WarningSpan("p1", "flood", 3600.0, 7200.0, 2, True)]
    >>> c = [WarningSpan("c1", "flood", 2100.0, 7000.0, 2, True), WarningSpan("c2", "flood", 9e4, None, 1, True)]
    >>> h = history_metrics(p, c, window_s=3600.0)
    >>> [h[k] for k in HISTORY_KEYS]
    [1, 2, 1, 25.0, 1, 0]
    """
    pairs, extra = match_warnings(production, candidate, window_s)
    matched = [(p, c) for p, c in pairs if c is not None]
    earlier = [round((p.raised - c.raised) / 60.0, 1) for p, c in matched]
    rows = [_pair_row(p, c) for p, c in pairs] + [_pair_row(None, c) for c in extra]
    return {
        "production_warnings": len(production), "candidate_warnings": len(candidate), "matched": len(matched),
        "earlier_minutes_median": _median(earlier), "extra": len(extra), "missed": len(pairs) - len(matched),
        "earlier_minutes": earlier,
        "production_public": sum(w.public for w in production), "candidate_public": sum(w.public for w in candidate),
        "public_differs": sum(p.public != c.public for p, c in matched),
        "pairs": rows}


def combine_history(parts: Sequence[dict]) -> dict:
    """Totals of several stations' :func:`history_metrics` (the median over every pair).

    >>> a = {"production_warnings": 1, "candidate_warnings": 1, "matched": 1, "extra": 0, "missed": 0,
    ...      "earlier_minutes": [10.0], "production_public": 1, "candidate_public": 1, "public_differs": 0}
    >>> combine_history([a, {**a, "earlier_minutes": [30.0]}])["earlier_minutes_median"]
    20.0
    """
    counts = ("production_warnings", "candidate_warnings", "matched", "extra", "missed", "production_public",
              "candidate_public", "public_differs")
    earlier = [v for part in parts for v in part["earlier_minutes"]]
    out: dict = {key: sum(part[key] for part in parts) for key in counts}
    out["earlier_minutes_median"] = _median(earlier)
    out["earlier_minutes"] = earlier
    return {key: out[key] for key in (*HISTORY_KEYS, *(k for k in out if k not in HISTORY_KEYS))}


def _median(values: Sequence[float]) -> float | None:
    return round(float(np.median(values)), 1) if values else None


def _pair_row(p: WarningSpan | None, c: WarningSpan | None) -> dict:
    """One line of the comparison table: the production warning, the candidate one, how much earlier."""
    row: dict = {"hazard": (p or c).hazard}
    for side, w in (("production", p), ("candidate", c)):
        row.update({f"{side}_id": w.id if w else None, f"{side}_raised_utc": utc(w.raised) if w else None,
                    f"{side}_level": Level(w.level).name if w else None, f"{side}_public": w.public if w else None})
    row["earlier_minutes"] = round((p.raised - c.raised) / 60.0, 1) if p and c else None
    return row
