"""The indicators partners agreed on, as pure functions of a :class:`~application.review.timeline.Timeline`.

- :func:`lead_times`: per station and quantity that crossed a threshold, how long before the
  crossing of the highest level reached, and before the peak, the first public warning was raised
  (negative: it came late);
- :func:`ack_times`: per partner, how long after a warning's raise it acknowledged the warnings at
  watch or above that concerned it, and which it never acknowledged;
- :func:`mismatches`: public warnings without a matching threshold crossing, crossings without a
  warning;
- :func:`availability`: per station, messages received against those expected from its usual
  interval, the longest gap, QC-flagged values and maintenance notices (sensor faults);
- :func:`delivery`: the workers' write lag (reading to durable) over the window, and the counts of
  warning events, CAP messages, acknowledgements, reminders and receptions across borders.

A warning *matches* a crossing when it is public, for the same station and quantity, and raised
in the review window. Times are in seconds.

Examples
--------
>>> from application.review.timeline import Row, Timeline
>>> M = 60 * 10**9
>>> tl = Timeline(0, 600 * M, shares={"up": ["down"], "down": ["up"]}, rows=[
...     Row(10 * M, "warning", "up", "g1", hazard="flood", quantity="water_level", level="watch",
...         id="up.g1.flood.1", state="raised"),
...     Row(30 * M, "crossing", "up", "g1", quantity="water_level", level="watch", value=2.6, threshold=2.5),
...     Row(40 * M, "ack", "down", "g1", id="up.g1.flood.1", by="ana", detail={"after_s": 1800.0}),
...     Row(50 * M, "peak", "up", "g1", quantity="water_level", level="watch", value=2.9, threshold=2.5)])
>>> lead = lead_times(tl)[0]
>>> lead["lead_crossing_s"], lead["lead_peak_s"]
(1200.0, 2400.0)
>>> [(a["partner"], a["acknowledged"], a["pending"], a["median_s"]) for a in ack_times(tl)]
[('down', 1, 0, 1800.0), ('up', 0, 1, None)]
"""

from __future__ import annotations

import statistics
from collections import Counter

from riverwatch.model import LEVEL_NAMES

from application.review.timeline import NS, Row, Timeline

#: Warnings at this level or above are expected to be acknowledged (as reminders are due for them).
ACK_MIN_LEVEL = "watch"


def first_raises(timeline: Timeline) -> dict[tuple[str, str, str], Row]:
    """When a warning first went public, per ``(partner, station, quantity)``: its public raise, or
    the update that made a warning kept internal public (a lone blip held back until corroborated).

    >>> from application.review.timeline import Row, Timeline
    >>> tl = Timeline(0, 9, rows=[Row(5, "warning", "p", "g", quantity="q", state="raised", id="a"),
    ...                          Row(7, "warning", "p", "g", quantity="q", state="raised", id="b")])
    >>> first_raises(tl)[("p", "g", "q")].id
    'a'
    >>> held = Timeline(0, 9, rows=[Row(2, "warning", "p", "g", quantity="q", state="raised", id="c", public=False),
    ...                            Row(4, "warning", "p", "g", quantity="q", state="updated", id="c")])
    >>> first_raises(held)[("p", "g", "q")].time_ns
    4
    """
    found: dict[tuple[str, str, str], Row] = {}
    for row in timeline.of("warning"):
        if row.public and row.state != "cleared" and row.hazard != "sensor":
            found.setdefault((row.partner, row.station, row.quantity), row)
    return found


def lead_times(timeline: Timeline) -> list[dict]:
    """Per station and quantity that crossed a threshold: the highest level crossed, when it was
    crossed and peaked, the first public warning, and the lead times before crossing and peak
    (None without a warning)."""
    raises = first_raises(timeline)
    crossed: dict[tuple[str, str, str], Row] = {}
    for row in timeline.of("crossing"):
        key = (row.partner, row.station, row.quantity)
        if key not in crossed or LEVEL_NAMES.index(row.level) > LEVEL_NAMES.index(crossed[key].level):
            crossed[key] = row
    peaks = {(r.partner, r.station, r.quantity): r for r in timeline.of("peak")}
    out = []
    for key, crossing in sorted(crossed.items()):
        top = peaks.get(key)
        warning = raises.get(key)
        out.append({
            "partner": key[0], "station": key[1], "quantity": key[2], "level": crossing.level,
            "crossing_ns": crossing.time_ns, "peak_ns": top.time_ns if top else None,
            "peak_value": top.value if top else None,
            "warning_ns": warning.time_ns if warning else None, "warning_id": warning.id if warning else None,
            "warning_level": warning.level if warning else None,
            "lead_crossing_s": (crossing.time_ns - warning.time_ns) / NS if warning else None,
            "lead_peak_s": (top.time_ns - warning.time_ns) / NS if warning and top else None,
        })
    return out


def ack_times(timeline: Timeline) -> list[dict]:
    """Per partner (of the catalog, or met in the timeline): warnings at watch or above that
    concerned it, how many it acknowledged, after how long (stored ``after_s``: from the raise),
    which it left pending, and the reminders its own warnings needed."""
    due_level = LEVEL_NAMES.index(ACK_MIN_LEVEL)
    due: dict[str, str] = {}  # warning id -> owner: public warnings that reached watch or above
    for row in timeline.of("warning"):
        if row.public and row.level in LEVEL_NAMES and LEVEL_NAMES.index(row.level) >= due_level:
            due.setdefault(row.id, row.partner)
    first_ack: dict[tuple[str, str], Row] = {}
    for row in timeline.of("ack"):
        first_ack.setdefault((row.partner, row.id), row)
    reminders = Counter(row.partner for row in timeline.of("reminder"))
    partners = sorted(set(timeline.shares) | {r.partner for r in timeline.of("ack", "warning")})
    out = []
    for partner in partners:
        mine = timeline.concerns(partner)
        concerned = sorted(wid for wid, owner in due.items() if owner in mine)
        delays = [first_ack[(partner, wid)].detail.get("after_s") for wid in concerned if (partner, wid) in first_ack]
        delays = [float(d) for d in delays if d is not None]
        out.append({
            "partner": partner, "concerned": len(concerned), "acknowledged": len(delays),
            "pending": len(concerned) - len(delays),
            "pending_ids": [wid for wid in concerned if (partner, wid) not in first_ack],
            "median_s": statistics.median(delays) if delays else None, "max_s": max(delays) if delays else None,
            "min_s": min(delays) if delays else None, "reminders": reminders.get(partner, 0),
        })
    return out


def mismatches(timeline: Timeline) -> dict[str, list[dict]]:
    """``warnings_without_event``: public warnings (not sensor notices) raised for a station where
    no quantity crossed a threshold; ``events_without_warning``: the first crossing of each quantity
    at a station that had no public warning in the window. Matched per station: one warning covers
    its station's hazard whatever quantity raised it (a water-quality warning raised on turbidity
    also warns of the conductivity crossing that follows).

    >>> from application.review.timeline import Row, Timeline
    >>> tl = Timeline(0, 9, rows=[Row(1, "warning", "p", "a", hazard="flood", quantity="q", state="raised", id="w"),
    ...                          Row(2, "crossing", "p", "b", quantity="q", level="advisory")])
    >>> m = mismatches(tl)
    >>> [w["id"] for w in m["warnings_without_event"]], [e["station"] for e in m["events_without_warning"]]
    (['w'], ['b'])
    """
    crossed = {(r.partner, r.station) for r in timeline.of("crossing")}
    raises = first_raises(timeline)
    warned = {(p, s) for p, s, _ in raises}
    without_event = [{"id": r.id, "partner": r.partner, "station": r.station, "quantity": r.quantity,
                      "hazard": r.hazard, "level": r.level, "time_ns": r.time_ns}
                     for key, r in sorted(raises.items()) if key[:2] not in crossed]
    firsts: dict[tuple[str, str, str], Row] = {}
    for r in timeline.of("crossing"):
        firsts.setdefault((r.partner, r.station, r.quantity), r)
    without_warning = [{"partner": k[0], "station": k[1], "quantity": k[2], "level": r.level, "time_ns": r.time_ns}
                       for k, r in sorted(firsts.items()) if k[:2] not in warned]
    return {"warnings_without_event": without_event, "events_without_warning": without_warning}


def usual_interval_ns(times: tuple[int, ...]) -> int | None:
    """The median spacing of a station's messages (None with fewer than two).

    >>> usual_interval_ns((0, 10, 20, 40)), usual_interval_ns((5,))
    (10, None)
    """
    if len(times) < 2:
        return None
    return int(statistics.median(b - a for a, b in zip(times, times[1:])))


def availability(timeline: Timeline) -> list[dict]:
    """Per station: messages received and expected (the span of the window that holds data, over
    the station's usual interval), their ratio, the longest gap, QC-flagged values and sensor
    notices raised.

    >>> from application.review.timeline import StationData, Timeline
    >>> tl = Timeline(0, 100, stations={("p", "s"): StationData("p", "s", "S", (0, 10, 20, 50, 60), 10, 1, 0)})
    >>> a = availability(tl)[0]
    >>> a["expected"], a["received"], a["availability"], round(a["longest_gap_s"] * 1e9), a["suspect"]
    (7, 5, 0.714, 30, 1)
    """
    times = [t for data in timeline.stations.values() for t in data.messages]
    start, end = (min(times), max(times)) if times else (timeline.from_ns, timeline.to_ns)
    notices = Counter((r.partner, r.station) for r in timeline.of("warning")
                      if r.state == "raised" and (r.hazard == "sensor" or not r.public))
    out = []
    for key, data in sorted(timeline.stations.items()):
        step = usual_interval_ns(data.messages)
        expected = (end - start) // step + 1 if step else (1 if times else 0)
        received = len(data.messages)
        gaps = [b - a for a, b in zip(data.messages, data.messages[1:])]
        out.append({
            "partner": key[0], "station": key[1], "name": data.name, "received": received, "expected": expected,
            "availability": round(min(1.0, received / expected), 3) if expected else None,
            "longest_gap_s": max(gaps) / NS if gaps else None, "values": data.values,
            "suspect": data.suspect, "failed": data.failed, "sensor_notices": notices.get(key, 0),
        })
    return out


def delivery(timeline: Timeline) -> dict:
    """Delivery delay (reading to published warning event, from the ``warning`` points' ``published_ns``),
    write lag (reading to durable, from the ``pipeline`` points) and what went out.

    >>> from application.review.timeline import Row, Timeline
    >>> tl = Timeline(0, 9, write_lags=[0.1, 0.3], rejects={"bad_json": 2}, rows=[
    ...     Row(1, "warning", "p", "g", state="raised", detail={"published_ns": 1 + 2 * NS}),
    ...     Row(2, "warning", "p", "g", state="cleared")])
    >>> d = delivery(tl)
    >>> d["write_lag_max_s"], d["warning_events"], d["cap_messages"], d["events_by_state"], d["rejects"]
    (0.3, 2, 2, {'cleared': 1, 'raised': 1}, 2)
    >>> d["publish_delay_median_s"], d["publish_delay_samples"]
    (2.0, 1)
    """
    lags = timeline.write_lags
    warnings = timeline.of("warning")
    delays = sorted((r.detail["published_ns"] - r.time_ns) / NS for r in warnings if r.detail.get("published_ns"))
    return {
        "publish_delay_samples": len(delays),
        "publish_delay_median_s": statistics.median(delays) if delays else None,
        "publish_delay_max_s": delays[-1] if delays else None,
        "write_lag_samples": len(lags),
        "write_lag_mean_s": round(statistics.fmean(lags), 4) if lags else None,
        "write_lag_max_s": max(lags) if lags else None,
        "warning_events": len(warnings),
        "events_by_state": dict(sorted(Counter(r.state for r in warnings).items())),
        "cap_messages": sum(1 for r in warnings if r.detail.get("cap", True)),
        "acknowledgements": len(timeline.of("ack")), "reminders": len(timeline.of("reminder")),
        "received_across_borders": len(timeline.of("received")),
        "rejects": sum(timeline.rejects.values()), "rejects_by_reason": dict(sorted(timeline.rejects.items())),
    }


def all_indicators(timeline: Timeline) -> dict:
    """Every indicator, as ``report.json`` holds them."""
    return {"lead_times": lead_times(timeline), "ack_times": ack_times(timeline),
            **mismatches(timeline), "availability": availability(timeline), "delivery": delivery(timeline)}
