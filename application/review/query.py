"""InfluxDB → timeline: the review's only reader of storage.

Reads the measurements of :mod:`riverwatch.storage` (``reading``, ``score``, ``warning``, ``ack``,
``reject``, ``pipeline``) between two instants and turns them into a
:class:`~application.review.timeline.Timeline`. Crossings and peaks are derived from the stored
readings and the catalog's thresholds; everything else is what the worker wrote.

Readings and warnings carry data time (the device clock); acknowledgements, reminders, rejects and
``pipeline`` points carry the worker's clock. One window selects both.

Precipitation is left out of crossings and peaks: its thresholds apply to a rolling one-hour
accumulation (detector ``rainfall``), not to a single reading.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

import orjson

from riverwatch import storage
from riverwatch.catalog import Catalog
from riverwatch.exercise_contract import EXERCISE_MEASUREMENT_PREFIX
from riverwatch.influx import InfluxClient, quote_ident, quote_literal
from riverwatch.model import LEVEL_NAMES

from application.review.timeline import Row, StationData, Timeline

log = logging.getLogger(__name__)

#: Quantities whose catalog levels are not thresholds of one reading.
NOT_PER_READING = frozenset({"precipitation"})
QC_SUSPECT, QC_FAIL = 3, 4


def read_timeline(client: InfluxClient, catalog: Catalog, from_ns: int, to_ns: int,
                  partner: str | None = None, drill: str | None = None) -> Timeline:
    """The incident between ``from_ns`` and ``to_ns`` (inclusive) as stored in ``client``'s database.

    With ``partner``, only what concerns that partner: its stations, those of partners sharing
    with it, and the acknowledgements and receptions of either. With ``drill``, the joint drill of
    that id instead of the real incident (its ``exercise_*`` measurements; the workers' own
    ``pipeline`` points are shared).
    """
    where = f"time >= {int(from_ns)} AND time <= {int(to_ns)}"
    if drill is not None:
        where += f' AND "drill" = {quote_literal(drill)}'
    timeline = Timeline(from_ns, to_ns, shares={p.id: list(p.shares_with) for p in catalog.partners})
    readings = _select(client, _name(storage.READING, drill), '"value", "qc"', where, '"partner", "station", "quantity"')
    scores = _select(client, _name(storage.SCORE, drill), "*", where, '"partner", "station", "quantity"')
    warnings = _select(client, _name(storage.WARNING, drill), "*", where, '"partner", "station", "hazard"')
    acks = _select(client, _name(storage.ACK, drill), "*", where, "*")
    timeline.rows += station_rows(catalog, readings, scores, timeline)
    timeline.rows += warning_rows(warnings)
    timeline.rows += received_rows(catalog, timeline.of("warning"))
    timeline.rows += ack_rows(acks)
    for row in _select(client, _name(storage.REJECT, drill), 'sum("count") AS n', where, '"reason"'):
        timeline.rejects[row["reason"]] = int(row["n"] or 0)
    plain = f"time >= {int(from_ns)} AND time <= {int(to_ns)}"
    timeline.write_lags = [float(r["write_lag_s"]) for r in _select(client, storage.PIPELINE, '"write_lag_s"', plain)
                           if r.get("write_lag_s") is not None]
    if partner is not None:
        timeline = for_partner(timeline, catalog, partner)
    return timeline.sort()


def _name(measurement: str, drill: str | None) -> str:
    """``measurement``, or the drill's ``exercise_`` twin of it.

    >>> _name("warning", None), _name("warning", "d1")
    ('warning', 'exercise_warning')
    """
    return measurement if drill is None else f"{EXERCISE_MEASUREMENT_PREFIX}{measurement}"


def _select(client: InfluxClient, measurement: str, columns: str, where: str, group: str = "") -> list[dict]:
    grouping = f" GROUP BY {group}" if group else ""
    return client.query_rows(f"SELECT {columns} FROM {quote_ident(measurement)} WHERE {where}{grouping}")


def station_rows(catalog: Catalog, readings: Iterable[dict], scores: Iterable[dict], timeline: Timeline) -> list[Row]:
    """Crossings, peaks and first abnormal readings; fills ``timeline``'s stations, series, thresholds."""
    by_series: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for row in readings:
        by_series[(row["partner"], row["station"], row["quantity"])].append(row)
    abnormal: dict[tuple[str, str], tuple[int, dict]] = {}

    def note(key: tuple[str, str], time_ns: int, detail: dict) -> None:
        if key not in abnormal or time_ns < abnormal[key][0]:
            abnormal[key] = (time_ns, detail)

    rows: list[Row] = []
    messages: dict[tuple[str, str], set[int]] = defaultdict(set)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    scores = list(scores)
    faulty = sensor_faults(scores)
    for (p, s, q), points in sorted(by_series.items()):
        points.sort(key=lambda r: r["time"])
        count = counts[(p, s)]
        for r in points:
            messages[(p, s)].add(int(r["time"]))
            qc = int(r["qc"]) if r.get("qc") is not None else 1
            count[0] += 1
            count[1] += qc == QC_SUSPECT
            count[2] += qc == QC_FAIL
            if qc >= QC_SUSPECT:
                note((p, s), int(r["time"]), {"reason": "qc", "quantity": q, "value": r["value"], "qc": qc})
        station = catalog.station(p, s)
        spec = station.quantities.get(q) if station is not None else None
        if spec is None or not spec.levels or q in NOT_PER_READING:
            continue
        levels = {name: float(spec.levels[name]) for name in LEVEL_NAMES if name in spec.levels}
        timeline.thresholds[(p, s, q)] = levels
        good = [(int(r["time"]), float(r["value"])) for r in river_readings(points, faulty, (p, s, q))]
        timeline.series[(p, s, q)] = good
        if spec.direction == "below":
            timeline.below.add((p, s, q))
        crossed = crossings(good, levels, spec.direction)
        for name, (t, v) in crossed.items():
            rows.append(Row(t, "crossing", p, s, quantity=q, level=name, value=v, threshold=levels[name]))
        if crossed:
            lowest = min(crossed.values())  # the earliest crossing
            note((p, s), lowest[0], {"reason": "threshold", "quantity": q, "value": lowest[1]})
            t, v = peak(good, spec.direction)
            top = max(crossed, key=LEVEL_NAMES.index)
            rows.append(Row(t, "peak", p, s, quantity=q, level=top, value=v, threshold=levels[top]))
    for r in scores:
        hot = sorted(k[:-len("_level")] for k, v in r.items() if k.endswith("_level") and v and int(v) > 0)
        if hot:
            note((r["partner"], r["station"]), int(r["time"]),
                 {"reason": "detector", "detector": ",".join(hot), "quantity": r.get("quantity", "")})
    for (p, s), (t, detail) in abnormal.items():
        rows.append(Row(t, "first_abnormal", p, s, quantity=detail.get("quantity", ""),
                        value=_float(detail.get("value")), detail=detail))
    for (p, s), times in messages.items():
        station = catalog.station(p, s)
        v, sus, fail = counts[(p, s)]
        timeline.stations[(p, s)] = StationData(p, s, station.name if station else s, tuple(sorted(times)),
                                                v, sus, fail)
    for st in catalog.stations:  # a station that sent nothing is part of the picture too
        timeline.stations.setdefault(st.key, StationData(st.partner, st.id, st.name))
    return rows


def river_readings(points: list[dict], faulty: set[tuple[str, str, str, int]],
                   series: tuple[str, str, str]) -> list[dict]:
    """The readings of one series (sorted by time) that say something about the river: not failed
    by QC, not flagged by ``sensor_fault``, and not a QC-suspect reading whose successor
    ``sensor_fault`` flagged (a spike is flagged when the sensor comes back)."""
    flagged = [(*series, int(r["time"])) in faulty for r in points]
    keep = []
    for i, r in enumerate(points):
        qc = int(r["qc"]) if r.get("qc") is not None else 1
        spike = qc >= QC_SUSPECT and i + 1 < len(flagged) and flagged[i + 1]
        if r.get("value") is not None and qc < QC_FAIL and not flagged[i] and not spike:
            keep.append(r)
    return keep


def sensor_faults(scores: Iterable[dict]) -> set[tuple[str, str, str, int]]:
    """``(partner, station, quantity, time)`` of readings the ``sensor_fault`` detector flagged: a
    spike or a stuck probe is not the river crossing a threshold, nor its peak.

    >>> sensor_faults([{"partner": "p", "station": "s", "quantity": "water_level", "time": 7,
    ...                 "sensor_fault_level": 2}, {"partner": "p", "station": "s", "quantity": "water_level",
    ...                 "time": 8, "sensor_fault_level": 0}])
    {('p', 's', 'water_level', 7)}
    """
    return {(r["partner"], r["station"], r.get("quantity", ""), int(r["time"])) for r in scores
            if r.get("sensor_fault_level") and int(r["sensor_fault_level"]) > 0}


def crossings(points: list[tuple[int, float]], levels: dict[str, float],
              direction: str = "above") -> dict[str, tuple[int, float]]:
    """The first ``(time, value)`` at or beyond each level's threshold (``direction`` of danger:
    ``above`` for a river stage, ``below`` for dissolved oxygen).

    >>> crossings([(1, 1.0), (2, 2.6), (3, 3.1), (4, 2.0)], {"advisory": 2.0, "watch": 2.5, "warning": 3.0,
    ...           "emergency": 3.8})
    {'advisory': (2, 2.6), 'watch': (2, 2.6), 'warning': (3, 3.1)}
    >>> crossings([(1, 8.0), (2, 5.5), (3, 4.5)], {"advisory": 6.0, "watch": 5.0}, "below")
    {'advisory': (2, 5.5), 'watch': (3, 4.5)}
    """
    sign = 1.0 if direction == "above" else -1.0
    found: dict[str, tuple[int, float]] = {}
    for name, threshold in levels.items():
        hit = next(((t, v) for t, v in points if sign * v >= sign * threshold), None)
        if hit is not None:
            found[name] = hit
    return found


def peak(points: list[tuple[int, float]], direction: str = "above") -> tuple[int, float]:
    """The first ``(time, value)`` of the worst value: the highest, or the lowest when danger lies below.

    >>> peak([(1, 1.0), (2, 3.0), (3, 3.0), (4, 2.0)]), peak([(1, 8.0), (2, 4.0), (3, 4.0)], "below")
    ((2, 3.0), (2, 4.0))
    """
    sign = 1.0 if direction == "above" else -1.0
    best = points[0]
    for t, v in points[1:]:
        if sign * v > sign * best[1]:
            best = (t, v)
    return best


def warning_rows(stored: Iterable[dict]) -> list[Row]:
    """One row per stored ``warning`` point, with its evidence decoded."""
    rows = []
    for r in stored:
        try:
            evidence = orjson.loads(r.get("evidence") or "{}")
        except orjson.JSONDecodeError:
            evidence = {"raw": r.get("evidence")}
        detail = {"detector": r.get("detector") or "", "score": r.get("score"), "lead_s": r.get("lead_s"),
                  "expected_at": r.get("expected_at"), "since": r.get("since"), "message": r.get("message") or "",
                  "evidence": evidence, "cap": True, "published_ns": r.get("published_ns")}
        rows.append(Row(int(r["time"]), "warning", r["partner"], r["station"], hazard=r["hazard"],
                        quantity=r.get("quantity") or "", level=r.get("level_name") or "none",
                        value=_float(r.get("value")), threshold=_float(r.get("threshold")), id=r.get("id") or "",
                        state=r.get("state") or "", public=bool(r.get("public", True)), detail=detail))
    return rows


def received_rows(catalog: Catalog, warnings: Iterable[Row]) -> list[Row]:
    """When a partner across a border got a warning: shared by its owner (raised or escalated),
    or raised at its own station by propagation from an upstream partner's warning."""
    country = {p.id: p.country for p in catalog.partners}
    shares = {p.id: p.shares_with for p in catalog.partners}
    rows = []
    for w in warnings:
        if not w.public or w.state not in ("raised", "escalated"):
            continue
        for reader in shares.get(w.partner, ()):
            if country.get(reader) != country.get(w.partner):
                rows.append(Row(w.time_ns, "received", reader, w.station, hazard=w.hazard, level=w.level,
                                id=w.id, state=w.state, detail={"via": "shared", "from": w.partner}))
        upstream = w.detail.get("evidence", {}).get("upstream_partner")
        if (w.state == "raised" and w.detail.get("detector") == "propagation" and upstream
                and country.get(upstream) != country.get(w.partner)):
            rows.append(Row(w.time_ns, "received", w.partner, w.station, hazard=w.hazard, level=w.level, id=w.id,
                            state=w.state, detail={"via": "propagation", "from": upstream,
                                                   "upstream": w.detail["evidence"].get("upstream", "")}))
    return rows


def ack_rows(stored: Iterable[dict]) -> list[Row]:
    """Acknowledgements and reminders (``ack`` points of kind ack and reminder)."""
    rows = []
    for r in stored:
        kind = r.get("kind")
        if kind == "ack":
            rows.append(Row(int(r["time"]), "ack", r["partner"], r.get("station") or "", hazard=r.get("hazard") or "",
                            id=r.get("id") or "", by=r.get("by") or "",
                            detail={"role": r.get("role") or "", "after_s": _float(r.get("after_s")),
                                    "comment": r.get("comment") or "", "action": r.get("action") or ""}))
        elif kind == "reminder":
            level = int(r.get("level") or 0)
            rows.append(Row(int(r["time"]), "reminder", r["partner"], r.get("station") or "",
                            hazard=r.get("hazard") or "", id=r.get("id") or "",
                            level=LEVEL_NAMES[level - 1] if level > 0 else "none",
                            detail={"after_s": _float(r.get("after_s"))}))
    return rows


def for_partner(timeline: Timeline, catalog: Catalog, partner: str) -> Timeline:
    """What concerns ``partner``: rows and stations of the partners whose warnings reach it."""
    seen = timeline.concerns(partner)
    owner = {st.id: st.partner for st in catalog.stations}

    def keep(row: Row) -> bool:
        if row.kind in ("received", "ack"):
            return row.partner == partner or owner.get(row.station, row.partner) in seen
        return row.partner in seen

    timeline.rows = [row for row in timeline.rows if keep(row)]
    timeline.stations = {k: v for k, v in timeline.stations.items() if k[0] in seen}
    timeline.series = {k: v for k, v in timeline.series.items() if k[0] in seen}
    timeline.thresholds = {k: v for k, v in timeline.thresholds.items() if k[0] in seen}
    return timeline


def _float(value: object) -> float | None:
    return None if value is None else float(value)
