"""``riverwatch evaluate --format influx``: replay what stations recorded, with candidate detector
settings, and compare with the warnings production raised.

Readings come from the ``reading`` measurement (``docs/storage-schema.md``) in time chunks, one
InfluxQL query per chunk for all the stations. Values of one station and timestamp are pivoted into
one reading set ``x = {"t": …, <quantity>: value, …}``; values flagged QC ``FAIL`` (or ``MISSING``)
are left out, as the pipeline leaves them out. The reading sets go, in time order, through each
station's candidate detector streams and one production :class:`~early_warning.lifecycle.WarningBook`
over the whole catalog, fed as :class:`ingest.pipeline.Pipeline` feeds it (``score_one``,
``learn_one``, ``level``; sensor streams first; evidence read after learning), the book ticking at
every reading. Only detector state, the book and each station's small outputs outlive a chunk.

The reference is the ``warning`` measurement: the warnings production raised for those stations.
Both sides become :class:`~evaluation.metrics.WarningSpan` lists (one per warning id,
raised in the span) compared by :func:`~evaluation.metrics.history_metrics`.

Examples
--------
>>> Span.parse("2027-01-15T08:00:00Z", "2027-01-15T20:00:00Z", now_s=0.0).chunks(6 * 3600 * 10**9)
[(1800000000000000000, 1800021600000000000), (1800021600000000000, 1800043200000000000)]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
import time
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from tqdm import tqdm

from detectors.base import get
from evaluation.datasets import parse_time
from evaluation.metrics import HISTORY_KEYS, WarningSpan, combine_history, history_metrics, utc
from evaluation.replay import split_params
from early_warning.lifecycle import PROPAGATION, WarningBook, hazard_of, sensor_streams_first, stream_id
from riverwatch.catalog import Catalog, Station, load_catalog
from riverwatch.errors import ConfigError
from riverwatch.influx import InfluxClient, quote_literal, series_to_rows
from riverwatch.model import QC, WarningEvent
from riverwatch.settings import Settings

FORMAT = "influx"
_NS = 1_000_000_000
_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_LINE_TIME_SLACK_NS = 999
#: Rows kept per station for its plot; beyond it every other row is dropped (the stride doubles).
PLOT_ROWS = 20_000


# --- the span ---------------------------------------------------------------------------------

def parse_duration(text: str, option: str) -> float:
    """Seconds of ``90s``, ``30m``, ``6h``, ``7d``, ``2w`` (``0`` is zero); the error names ``option``.

    >>> parse_duration("90m", "--chunk"), parse_duration("0", "--warmup")
    (5400.0, 0.0)
    """
    if text.strip() == "0":
        return 0.0
    m = _DURATION.match(text)
    if not m:
        raise ConfigError(f"option {option}: {text!r} is not a duration like 30m, 6h, 7d or 2w")
    return float(m.group(1)) * _UNITS_S[m.group(2)]


def parse_instant(text: str, now_s: float, option: str) -> float:
    """Epoch seconds of an RFC 3339 time, ``now``, or a duration before now (``7d``).

    >>> parse_instant("2027-01-15T08:00:00Z", 0.0, "--since"), parse_instant("1h", 7200.0, "--since")
    (1800000000.0, 3600.0)
    """
    text = text.strip()
    if text == "now":
        return now_s
    if _DURATION.match(text):
        return now_s - parse_duration(text, option)
    try:
        return parse_time(text)
    except ValueError:
        raise ConfigError(f"option {option}: {text!r} is neither an RFC 3339 time "
                          "(2027-01-15T08:00:00Z) nor a duration ago (7d)") from None


@dataclass(frozen=True, slots=True)
class Span:
    """The replayed time: warnings raised in ``[since, until)`` are compared; the ``warmup`` before
    ``since`` is replayed too, to settle detectors and the book, and its warnings are not counted."""

    since_ns: int
    until_ns: int
    warmup_ns: int = 0

    @classmethod
    def parse(cls, since: str, until: str, warmup: str = "0", now_s: float | None = None) -> "Span":
        """The span of the ``--since``/``--until``/``--warmup`` options."""
        now_s = time.time() if now_s is None else now_s
        a = int(round(parse_instant(since, now_s, "--since") * _NS))
        b = int(round(parse_instant(until, now_s, "--until") * _NS))
        if a >= b:
            raise ConfigError(f"option --since: {since!r} is not before --until {until!r}")
        return cls(a, b, int(round(parse_duration(warmup, "--warmup") * _NS)))

    @property
    def start_ns(self) -> int:
        """Where the replay starts (``since`` − ``warmup``)."""
        return self.since_ns - self.warmup_ns

    def chunks(self, chunk_ns: int) -> list[tuple[int, int]]:
        """Consecutive ``[a, b)`` of at most ``chunk_ns`` covering the replay."""
        if chunk_ns <= 0:
            raise ConfigError("option --chunk: must be longer than 0")
        edges = list(range(self.start_ns, self.until_ns, chunk_ns)) + [self.until_ns]
        return list(zip(edges, edges[1:]))

    def label(self) -> str:
        """``since → until`` in UTC."""
        return f"{utc(self.since_ns / _NS)} → {utc(self.until_ns / _NS)} UTC"


# --- which stations ----------------------------------------------------------------------------

def resolve_stations(catalog: Catalog, items: Iterable[str], where: str = "the catalog") -> list[Station]:
    """The catalog stations named by ``partner/station`` items (comma lists too; ``partner/*``: all
    of a partner), in the order given, each once.

    >>> from riverwatch.settings import REPO_ROOT
    >>> cat = load_catalog(REPO_ROOT / "catalog" / "demo.toml")
    >>> [s.id for s in resolve_stations(cat, ["lacville/*,rivertown/gauge-hochtal"])]
    ['gauge-lacville', 'wx-lacville', 'wq-lacville', 'gauge-hochtal']
    """
    out: dict[tuple[str, str], Station] = {}
    partners = {p.id for p in catalog.partners}
    for item in (part.strip() for text in items for part in str(text).split(",") if part.strip()):
        partner, slash, name = item.partition("/")
        if not slash or not partner or not name:
            raise ConfigError(f"evaluate: {item!r} is not partner/station (or partner/*)")
        if partner not in partners:
            raise ConfigError(f"evaluate: partner {partner!r} of {item!r} is not in {where} "
                              f"(partners: {', '.join(sorted(partners))})")
        if name == "*":
            found = [s for s in catalog.stations if s.partner == partner]
        else:
            st = catalog.station(partner, name)
            if st is None:
                raise ConfigError(f"evaluate: station {item} is not in {where}")
            found = [st]
        out.update((s.key, s) for s in found)
    if not out:
        raise ConfigError("evaluate: name at least one partner/station to replay")
    return list(out.values())


# --- queries ------------------------------------------------------------------------------------

def station_clause(stations: Sequence[Station]) -> str:
    """InfluxQL condition selecting the stations' series.

    >>> from riverwatch.catalog import Station
    >>> st = Station(id="g", partner="p", kind="river_gauge", name="G", lat=0, lon=0, quantities={"water_level": {}})
    >>> station_clause([st])
    "(partner = 'p' AND (station = 'g'))"
    """
    by_partner: dict[str, list[str]] = defaultdict(list)
    for st in stations:
        by_partner[st.partner].append(st.id)
    return " OR ".join(f"(partner = {quote_literal(p)} AND ({' OR '.join(f'station = {quote_literal(s)}' for s in ids)}))"
                       for p, ids in by_partner.items())


def reading_query(stations: Sequence[Station], a_ns: int, b_ns: int) -> str:
    """The ``reading`` rows of the stations in ``[a, b)``, one row per value (no GROUP BY)."""
    return (f'SELECT "value", "qc", "partner", "station", "quantity" FROM "reading" '
            f"WHERE ({station_clause(stations)}) AND time >= {a_ns} AND time < {b_ns}")


def warning_query(stations: Sequence[Station], a_ns: int, b_ns: int) -> str:
    """The ``warning`` rows of the stations in ``[a, b)``."""
    return (f'SELECT "id", "state", "level", "public", "detector", "quantity", "value", "since", "evidence", '
            f'"partner", "station", "hazard" FROM "warning" '
            f"WHERE ({station_clause(stations)}) AND time >= {a_ns} AND time < {b_ns}")


@dataclass(frozen=True, slots=True)
class Chunk:
    """The reading sets of one chunk, in replay order: ``(time_ns, (partner, station), x)``; and the
    values left out per station because production flagged them QC FAIL or worse."""

    rows: list[tuple[int, tuple[str, str], dict[str, float]]]
    failed: dict[tuple[str, str], int]


def read_chunk(client: InfluxClient, stations: Sequence[Station], a_ns: int, b_ns: int) -> Chunk:
    """Query one chunk and pivot it: one reading set per station and timestamp (see the module doc).

    Raises
    ------
    ConfigError
        When the server cut the answer short (its row limit): a smaller ``--chunk`` is needed.
    """
    series = client.query(reading_query(stations, a_ns, b_ns))
    if any(s.get("partial") for s in series):
        raise ConfigError(f"evaluate: InfluxDB returned a partial answer for {utc(a_ns / _NS)} … "
                          f"{utc(b_ns / _NS)} (its max-row-limit): use a smaller --chunk")
    known = {st.key: st.quantities for st in stations}
    sets: dict[tuple[int, str, str], dict[str, float]] = {}
    failed: dict[tuple[str, str], int] = defaultdict(int)
    for row in series_to_rows(series):
        key = (row.get("partner"), row.get("station"))
        quantities = known.get(key)
        value = row.get("value")
        if quantities is None or row.get("quantity") not in quantities or value is None:
            continue
        t = int(row["time"])
        x = sets.get((t, *key))
        if x is None:
            x = sets[(t, *key)] = {"t": t / _NS}
        qc = row.get("qc")
        if qc is not None and int(qc) >= QC.FAIL:
            failed[key] += 1
            continue
        x[row["quantity"]] = float(value)
    rows = [(t, (p, s), x) for (t, p, s), x in sorted(sets.items(), key=lambda item: item[0])]
    return Chunk(rows, dict(failed))


def read_warnings(client: InfluxClient, stations: Sequence[Station], span: Span
                  ) -> dict[tuple[str, str], list[dict]]:
    """Production's ``warning`` rows of each station over the replay, in time order."""
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in client.query_rows(warning_query(stations, span.start_ns, span.until_ns)):
        out[(row.get("partner"), row.get("station"))].append(row)
    for rows in out.values():
        rows.sort(key=lambda r: int(r["time"]))
    return out


# --- warnings: rows of either side into spans -------------------------------------------------

def event_row(event: WarningEvent) -> dict:
    """A lifecycle event as the ``warning`` row production would have stored for it."""
    return {"time": event.time_ns, "id": event.id, "state": event.state, "level": int(event.level),
            "public": bool(event.public), "detector": event.detector, "quantity": event.quantity,
            "value": event.value, "since": event.since_ns, "hazard": event.hazard,
            "upstream": dict(event.details).get("upstream", "")}


def _upstream(row: dict) -> str:
    if "upstream" in row:
        return row["upstream"] or ""
    try:
        return str(json.loads(row.get("evidence") or "{}").get("upstream", ""))
    except (ValueError, AttributeError):
        return ""


def warning_spans(rows: Sequence[dict], since_ns: int, until_ns: int) -> list[WarningSpan]:
    """One :class:`WarningSpan` per warning id raised in ``[since, until)``, from its rows (time order).

    The raise is the ``since`` field (the id's first row when absent); the warning ended at its last
    row when that row is ``cleared``.

    >>> rows = [{"time": 10 * _NS, "id": "a", "state": "raised", "level": 1, "public": True, "hazard": "flood",
    ...          "since": 10 * _NS}, {"time": 70 * _NS, "id": "a", "state": "cleared", "level": 0,
    ...          "public": True, "hazard": "flood"}]
    >>> w = warning_spans(rows, 0, 100 * _NS)[0]
    >>> (w.raised, w.ended, w.level, w.public)
    (10.0, 70.0, 1, True)
    """
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        if row.get("id"):
            grouped.setdefault(row["id"], []).append(row)
    out = []
    for wid, life in grouped.items():
        first, last = life[0], life[-1]
        raised_ns = int(first.get("since") or first["time"])
        if not since_ns <= raised_ns < until_ns:
            continue
        out.append(WarningSpan(
            wid, first.get("hazard") or "", raised_ns / _NS,
            int(last["time"]) / _NS if last.get("state") == "cleared" else None,
            max(int(r.get("level") or 0) for r in life), any(bool(r.get("public")) for r in life),
            first.get("detector") or "", first.get("quantity") or "",
            _upstream(first) if first.get("detector") == PROPAGATION else ""))
    out.sort(key=lambda w: (w.raised, w.id))
    return out


class LevelSteps:
    """The highest level of a station's open warnings over time (private hazards left out), from its
    warning rows in time order; ``at(t_ns)`` reads it.

    >>> steps = LevelSteps([{"time": 5, "id": "a", "level": 2, "hazard": "flood"},
    ...                     {"time": 9, "id": "a", "level": 0, "hazard": "flood"}], ("sensor",))
    >>> steps.at(4), steps.at(5), steps.at(8), steps.at(9)
    (0, 2, 2, 0)
    """

    __slots__ = ("times", "levels", "open")

    def __init__(self, rows: Iterable[dict] = (), private: Iterable[str] = ("sensor",)) -> None:
        self.times: list[int] = []
        self.levels: list[int] = []
        self.open: dict[str, int] = {}
        private = set(private)
        for row in rows:
            if row.get("hazard") not in private:
                self.add(int(row["time"]), row.get("id") or "", int(row.get("level") or 0))

    def add(self, t_ns: int, wid: str, level: int) -> None:
        """Record a row: warning ``wid`` at ``level`` (0: cleared) from ``t_ns`` on."""
        if level:
            self.open[wid] = level
        else:
            self.open.pop(wid, None)
        now = max(self.open.values(), default=0)
        if self.times and self.times[-1] == t_ns:
            self.levels[-1] = now
        else:
            self.times.append(t_ns)
            self.levels.append(now)

    def at(self, t_ns: int) -> int:
        """The level at ``t_ns``."""
        k = bisect_right(self.times, t_ns)
        return self.levels[k - 1] if k else 0

    @property
    def current(self) -> int:
        """The level after the last row."""
        return self.levels[-1] if self.levels else 0


class Thinned:
    """At most ``cap`` rows of a long recording, for plotting: every ``stride``-th row, the stride
    doubling (every other kept row dropped) whenever ``cap`` is reached.

    >>> th = Thinned(cap=4)
    >>> for i in range(10):
    ...     th.add([float(i)])
    >>> th.array()[:, 0].tolist(), th.stride
    ([0.0, 4.0, 8.0], 4)
    """

    __slots__ = ("cap", "stride", "seen", "rows")

    def __init__(self, cap: int = PLOT_ROWS) -> None:
        self.cap = max(cap, 2)
        self.stride = 1
        self.seen = 0
        self.rows: list[list[float]] = []

    def add(self, row: list[float]) -> None:
        """Offer one row."""
        if self.seen % self.stride == 0:
            self.rows.append(row)
            if len(self.rows) >= self.cap:
                self.rows = self.rows[::2]
                self.stride *= 2
        self.seen += 1

    def array(self) -> np.ndarray:
        """The kept rows as a 2-D float array."""
        return np.asarray(self.rows, dtype=float).reshape(len(self.rows), -1) if self.rows else np.zeros((0, 0))


# --- the replay ---------------------------------------------------------------------------------

class StationRun:
    """One replayed station: its candidate streams in pipeline order and what the replay records."""

    __slots__ = ("station", "streams", "hazards", "quantities", "readings", "failed", "first_ns", "last_ns",
                 "events", "candidate", "production", "rows", "plot", "errors")

    def __init__(self, station: Station, names: Sequence[str], params: dict, private: Sequence[str],
                 production_rows: Sequence[dict]) -> None:
        self.station = station
        streams = []
        for name in names:
            spec = get(name)
            for quantity in spec.applies(station):
                det = spec.build(station, quantity, params[name])
                streams.append((quantity, hazard_of(det, spec.hazard), stream_id(name, quantity), det))
        self.streams = sensor_streams_first(streams, lambda s: s[1], private)
        self.hazards = sorted({s[1] for s in self.streams})
        self.quantities = list(station.quantities)
        self.readings = self.failed = self.errors = 0
        self.first_ns = self.last_ns = None
        self.events: list[dict] = []
        self.candidate = LevelSteps()
        self.production = LevelSteps(production_rows, private)
        self.rows: list[list] = []
        self.plot = Thinned()

    @property
    def name(self) -> str:
        """``partner/station``."""
        return f"{self.station.partner}/{self.station.id}"


class HistoryReplay:
    """The candidate detectors of the replayed stations and one production warning book.

    Parameters
    ----------
    catalog
        The whole catalog (the book propagates and corroborates across it).
    stations
        The replayed stations.
    names, params
        Candidate detectors and their parameters (``{name: {k: v}}``).
    production
        Production's ``warning`` rows per station key (for the per-row production level).
    """

    def __init__(self, catalog: Catalog, stations: Sequence[Station], names: Sequence[str], params: dict,
                 production: dict[tuple[str, str], list[dict]] | None = None) -> None:
        self.book = WarningBook(catalog)
        private = self.book.params.private_hazards
        self.private = set(private)
        production = production or {}
        self.runs = {st.key: StationRun(st, names, params, private, production.get(st.key, ()))
                     for st in stations}
        self.seconds = 0.0

    def feed(self, chunk: Chunk) -> None:
        """Replay one chunk's reading sets (in order) and record each station's outputs."""
        started = time.perf_counter()
        runs = self.runs
        for key, n in chunk.failed.items():
            runs[key].failed += n
        for t_ns, key, x in chunk.rows:
            run = runs[key]
            score, level = self._step(run, x)
            self._record(run, t_ns, x, score, level)
        self.seconds += time.perf_counter() - started

    def _step(self, run: StationRun, x: dict) -> tuple[float, int]:
        """Score, learn and level every stream of the station that ``x`` feeds, then the book."""
        book, station, t = self.book, run.station, x["t"]
        scored = []
        best_score, best_level = 0.0, 0
        for quantity, hazard, sid, det in run.streams:
            if quantity is not None and quantity not in x:
                continue
            try:
                s = det.score_one(x)
                det.learn_one(x)
                current = int(det.level(s))
            except Exception:  # as in the pipeline: a failing stream is counted and skipped
                run.errors += 1
                continue
            scored.append((hazard, sid, det, s, current))
            if s == s:
                best_score = max(best_score, min(max(float(s), 0.0), 1.0))
            best_level = max(best_level, current)
        events: list[WarningEvent] = []
        for hazard, sid, det, s, current in scored:
            if current or book.pending(station.key, sid):
                events += book.update(station, hazard, sid, current, t, lambda det=det, s=s: det.evidence(x, s))
        events += book.tick(t)
        for ev in events:
            other = self.runs.get((ev.partner, ev.station))
            if other is not None:
                row = event_row(ev)
                other.events.append(row)
                if ev.hazard not in self.private:
                    other.candidate.add(row["time"], row["id"], row["level"])
        return best_score, best_level

    @staticmethod
    def _record(run: StationRun, t_ns: int, x: dict, score: float, level: int) -> None:
        run.readings += 1
        if run.first_ns is None:
            run.first_ns = t_ns
        run.last_ns = t_ns
        values = [x.get(q, math.nan) for q in run.quantities]
        # production's warning lines of one instant may be a few ns apart (unique line times)
        warned, produced = run.candidate.current, run.production.at(t_ns + _LINE_TIME_SLACK_NS)
        run.rows.append([t_ns, *values, score, level, warned, produced])
        run.plot.add([t_ns / _NS, *values, warned, produced])

    def flush(self, out: Path) -> None:
        """Append the recorded rows of every station to ``out/<partner>/<station>.csv`` and forget them."""
        for run in self.runs.values():
            path = out / run.station.partner / f"{run.station.id}.csv"
            new = not path.exists()
            if new and not run.rows:
                continue
            if new:
                path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", newline="") as fh:
                w = csv.writer(fh)
                if new:
                    w.writerow(["timestamp", *run.quantities, "anomaly_score", "level", "warning_level",
                                "production_level"])
                for t_ns, *values, score, level, warned, produced in run.rows:
                    w.writerow([_stamp(t_ns), *(_num(v) for v in values), f"{score:.6f}", level, warned, produced])
            run.rows.clear()


def public_url(url: str) -> str:
    """``url`` without any user or password in it (for summaries and messages).

    >>> public_url("http://reader:s3cret@db.example:8086/x")
    'http://db.example:8086/x'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _stamp(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / _NS, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(v: float) -> str:
    return "" if v != v else f"{v:.6g}"


# --- the command ----------------------------------------------------------------------------------

def candidate_settings(settings: Settings, detectors: Sequence[str], pairs: Sequence[str]
                       ) -> tuple[list[str], dict]:
    """The candidate detectors (``--detector``, else production's ``ingest.detectors``) and their
    parameters: production's ``ingest.detector_params`` overridden by ``--param``, checked once."""
    names = list(detectors) or list(settings.ingest.detectors)
    if not names:
        raise ConfigError("evaluate: no detectors: give --detector or set ingest.detectors")
    given = split_params(names, pairs)
    params = {}
    for name in names:
        merged = {**settings.ingest.detector_params.get(name, {}), **given[name]}
        get(name).parse_params(merged)
        params[name] = merged
    return names, params


def client_for(settings: Settings) -> InfluxClient:
    """An InfluxDB client from the ``influx`` settings."""
    s = settings.influx
    return InfluxClient(s.url, s.database, token=s.token.get_secret_value() if s.token else None,
                        username=s.username, password=s.password.get_secret_value() if s.password else None,
                        timeout=s.timeout_s)


def run(args: argparse.Namespace, lead_window_s: float) -> int:
    """Replay the stations' history with the candidate settings; write and print the comparison."""
    settings = Settings.load(args.config)
    catalog = load_catalog(settings.catalog)
    stations = resolve_stations(catalog, args.data, where=f"the catalog {settings.catalog}")
    names, params = candidate_settings(settings, args.detector, args.param)
    span = Span.parse(args.since, args.until, args.warmup)
    chunks = span.chunks(int(round(parse_duration(args.chunk, "--chunk") * _NS)))
    client = client_for(settings)
    try:
        production = read_warnings(client, stations, span)
        replay = HistoryReplay(catalog, stations, names, params, production)
        args.out.mkdir(parents=True, exist_ok=True)
        _clear_outputs(args.out, stations)
        with tqdm(chunks, unit="chunk", desc="history", disable=args.no_progress, file=sys.stderr,
                  mininterval=1.0) as bar:
            for a, b in bar:
                replay.feed(read_chunk(client, stations, a, b))
                replay.flush(args.out)
                bar.set_postfix(readings=sum(r.readings for r in replay.runs.values()), refresh=False)
    finally:
        client.close()
    if not any(r.readings for r in replay.runs.values()):
        raise ConfigError(f"evaluate: no readings of {', '.join(r.name for r in replay.runs.values())} "
                          f"from {utc(span.start_ns / _NS)} to {utc(span.until_ns / _NS)} UTC in database "
                          f"{settings.influx.database!r} at {public_url(settings.influx.url)}")
    summary, compared = summarise(replay, production, span, names, params, settings, args, lead_window_s,
                                  len(chunks))
    summary["plots"] = draw_plots(replay, summary, compared, args.out, args.max_plots)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_history(summary)
    return 0


def _clear_outputs(out: Path, stations: Sequence[Station]) -> None:
    """Remove the per-station CSVs of an earlier run (the replay appends to them)."""
    for st in stations:
        (out / st.partner / f"{st.id}.csv").unlink(missing_ok=True)


def compare_station(run: StationRun, production_rows: Sequence[dict], span: Span, replayed: set[str],
                    private: set[str], window_s: float) -> tuple[dict, list[WarningSpan], list[WarningSpan]]:
    """One station's comparison: :func:`history_metrics` over the hazards the candidate can raise,
    and the production and candidate warnings compared.

    Production warnings of other hazards, and those raised by propagation from a station not
    replayed, cannot be reproduced: they are counted apart (``not_compared``); maintenance notices
    (private hazards) are counted apart on both sides.
    """
    production = warning_spans(production_rows, span.since_ns, span.until_ns)
    candidate = warning_spans(run.events, span.since_ns, span.until_ns)
    hazards = (set(run.hazards) | {w.hazard for w in candidate}) - private
    compared = [w for w in production if w.hazard in hazards and not (w.upstream and w.upstream not in replayed)]
    skipped = [w for w in production if w not in compared and w.hazard not in private]
    mine = [w for w in candidate if w.hazard not in private]
    out = history_metrics(compared, mine, window_s)
    out["not_compared"] = len(skipped)
    out["not_compared_ids"] = [w.id for w in skipped]
    out["maintenance_notices"] = {"production": sum(w.hazard in private for w in production),
                                  "candidate": sum(w.hazard in private for w in candidate)}
    return out, compared, mine


def summarise(replay: HistoryReplay, production: dict, span: Span, names: Sequence[str], params: dict,
              settings: Settings, args: argparse.Namespace, window_s: float, n_chunks: int
              ) -> tuple[dict, dict[str, tuple[list[WarningSpan], list[WarningSpan]]]]:
    """The summary (the span and settings, ``history`` totals, the per-station table) and, per
    station, the production and candidate warnings compared (for the plots)."""
    replayed = {st.station.id for st in replay.runs.values()}
    per_series, compared = [], {}
    for key, run in replay.runs.items():
        cmp, ours, theirs = compare_station(run, production.get(key, ()), span, replayed, replay.private, window_s)
        compared[run.name] = (ours, theirs)
        per_series.append({
            "series": run.name, "readings": run.readings, "values_failed_qc": run.failed,
            "detector_errors": run.errors,
            "first_utc": utc(run.first_ns / _NS) if run.first_ns else None,
            "last_utc": utc(run.last_ns / _NS) if run.last_ns else None, "hazards": run.hazards,
            "history": {k: v for k, v in cmp.items() if k != "pairs"}, "warnings": cmp["pairs"]})
        _write_warnings(args.out, run, cmp["pairs"])
    readings = sum(r.readings for r in replay.runs.values())
    totals = combine_history([row["history"] for row in per_series])
    totals["not_compared"] = sum(row["history"]["not_compared"] for row in per_series)
    summary = {
        "format": FORMAT, "data": [r.name for r in replay.runs.values()],
        "database": settings.influx.database, "url": public_url(settings.influx.url),
        "since": _stamp(span.since_ns), "until": _stamp(span.until_ns), "warmup_hours": span.warmup_ns / _NS / 3600.0,
        "chunks": n_chunks, "detectors": list(names), "params": params,
        "production_detectors": list(settings.ingest.detectors),
        "production_params": settings.ingest.detector_params,
        "series": len(per_series), "readings": readings,
        "values_failed_qc": sum(r.failed for r in replay.runs.values()),
        "replay_seconds": round(replay.seconds, 3),
        "readings_per_s": round(readings / replay.seconds) if replay.seconds else None,
        "lead_window_minutes": window_s / 60.0, "history": totals, "per_series": per_series}
    return summary, compared


def _write_warnings(out: Path, run: StationRun, pairs: Sequence[dict]) -> None:
    """``out/<partner>/<station>_warnings.csv``: every compared warning of both sides, paired."""
    path = out / run.station.partner / f"{run.station.id}_warnings.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = ["hazard", "production_id", "production_raised_utc", "production_level", "production_public",
            "candidate_id", "candidate_raised_utc", "candidate_level", "candidate_public", "earlier_minutes"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(keys)
        for row in pairs:
            w.writerow(["" if row[k] is None else row[k] for k in keys])


def draw_plots(replay: HistoryReplay, summary: dict, compared: dict, out: Path, max_plots: int) -> list[str]:
    """``plots/<partner>__<station>.png`` for the stations that disagree most (first ``max_plots``)."""
    from evaluation.plots import plot_history  # matplotlib: only when drawing

    rows = {row["series"]: row["history"] for row in summary["per_series"]}
    runs = sorted((r for r in replay.runs.values() if r.readings),
                  key=lambda r: -(rows[r.name]["extra"] + rows[r.name]["missed"]))
    drawn = []
    for run in runs[:max(max_plots, 0)]:
        h = rows[run.name]
        data = run.plot.array()
        q = len(run.quantities)
        title = (f"{run.name}: production {h['production_warnings']} warnings (red, dashed), candidate "
                 f"{h['candidate_warnings']} (orange); matched {h['matched']}, earlier by "
                 f"{_fmt(h['earlier_minutes_median'])} min (median), extra {h['extra']}, missed {h['missed']}\n"
                 f"{summary['since']} → {summary['until']}")
        path = plot_history(data[:, 0], {name: data[:, 1 + k] for k, name in enumerate(run.quantities)},
                            data[:, 1 + q], data[:, 2 + q], *compared[run.name],
                            out / "plots" / f"{run.station.partner}__{run.station.id}.png", title=title)
        drawn.append(str(path.relative_to(out)))
    return drawn


def _fmt(v: Any) -> str:
    return "n/a" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def headline(h: dict) -> str:
    """The sentence engineers quote.

    >>> headline({"matched": 3, "earlier_minutes_median": 25.0, "extra": 2, "missed": 0})
    'these settings would have warned 25 min earlier (median of 3 matched), with 2 extra warnings and 0 missed'
    >>> headline({"matched": 0, "earlier_minutes_median": None, "extra": 1, "missed": 2})
    'these settings matched none of the production warnings, with 1 extra warning and 2 missed'
    """
    m = h["earlier_minutes_median"]
    extra = f"{h['extra']} extra warning{'s' if h['extra'] != 1 else ''} and {h['missed']} missed"
    if not h["matched"]:
        return f"these settings matched none of the production warnings, with {extra}"
    when = ("at the same time" if m == 0 else f"{abs(m):g} min {'earlier' if m > 0 else 'later'}")
    return f"these settings would have warned {when} (median of {h['matched']} matched), with {extra}"


def print_history(summary: dict) -> None:
    """Print the span, one line per station and the headline figures."""
    print(f"detectors: {', '.join(summary['detectors'])}   stations: {summary['series']}   readings: "
          f"{summary['readings']} ({_fmt(summary['readings_per_s'])}/s)   {summary['since']} → {summary['until']}")
    for row in summary["per_series"]:
        h = row["history"]
        if not row["readings"] and not h["production_warnings"] and not h["candidate_warnings"]:
            print(f"  {row['series']}: no readings and no warnings in the span")
            continue
        own = "" if row["readings"] else "(no readings of its own) "
        print(f"  {row['series']}: {own}production {h['production_warnings']} warnings ({h['production_public']} "
              f"public), candidate {h['candidate_warnings']} ({h['candidate_public']} public); matched {h['matched']}, "
              f"earlier by {_fmt(h['earlier_minutes_median'])} min (median), extra {h['extra']}, "
              f"missed {h['missed']}" + (f", not comparable {h['not_compared']}" if h["not_compared"] else ""))
    h = summary["history"]
    print("history: " + "  ".join(f"{k}={_fmt(h[k])}" for k in HISTORY_KEYS))
    print(headline(h))
