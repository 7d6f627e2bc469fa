"""``riverwatch evaluate --format influx``: the replay of stations' history with candidate detectors.

The reading sets go, in time order, through each replayed station's candidate detector streams
(:class:`~early_warning.stepper.StationStepper`, as production steps them: ``score_one``,
``learn_one``, ``level``; sensor streams first; evidence read after learning) and one production
:class:`~early_warning.lifecycle.WarningBook` over the whole catalog, the book ticking at every
reading. Only detector state, the book and each station's small outputs outlive a chunk.

Examples
--------
>>> from riverwatch.catalog import load_catalog
>>> cat = load_catalog("catalog/demo.toml")
>>> replay = HistoryReplay(cat, [cat.station("rivertown", "gauge-hochtal")], ["level_threshold"], {})
>>> key = ("rivertown", "gauge-hochtal")
>>> replay.feed(Chunk([(t * NS, key, {"t": float(t), "water_level": 2.7})
...                    for t in range(1_800_000_000, 1_800_003_000, 600)], {}))
>>> run = replay.runs[key]
>>> run.readings, run.events[0]["state"], run.candidate.current
(5, 'raised', 2)
"""

from __future__ import annotations

import csv
import math
import time
from bisect import bisect_right
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from detectors.base import DetectorSpec, get
from early_warning.lifecycle import LifecycleParams, WarningBook
from early_warning.stepper import DetectorStream, StationStepper
from evaluation.history_query import Chunk
from evaluation.history_span import NS, stamp
from riverwatch.catalog import Catalog, Station
from riverwatch.model import WarningEvent

#: Production's warning lines of one instant may be a few ns apart (unique line times).
_LINE_TIME_SLACK_NS = 999
#: Rows kept per station for its plot; beyond it every other row is dropped (the stride doubles).
PLOT_ROWS = 20_000


def event_row(event: WarningEvent) -> dict:
    """A lifecycle event as the ``warning`` row production would have stored for it."""
    return {"time": event.time_ns, "id": event.id, "state": event.state, "level": int(event.level),
            "public": bool(event.public), "detector": event.detector, "quantity": event.quantity,
            "value": event.value, "since": event.since_ns, "hazard": event.hazard,
            "upstream": dict(event.details).get("upstream", "")}


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


class StationRun:
    """One replayed station: its candidate streams in pipeline order and what the replay records."""

    __slots__ = ("station", "stepper", "hazards", "quantities", "readings", "failed", "first_ns", "last_ns",
                 "events", "candidate", "production", "rows", "plot", "errors")

    def __init__(self, station: Station, specs: Sequence[DetectorSpec], params: dict, private: Sequence[str],
                 production_rows: Sequence[dict]) -> None:
        self.station = station
        self.stepper = StationStepper.build(station, specs, params, private=private, on_error=self._failed)
        self.hazards = sorted({ds.hazard for ds in self.stepper.streams})
        self.quantities = list(station.quantities)
        self.readings = self.failed = self.errors = 0
        self.first_ns = self.last_ns = None
        self.events: list[dict] = []
        self.candidate = LevelSteps()
        self.production = LevelSteps(production_rows, private)
        self.rows: list[list] = []
        self.plot = Thinned()

    def _failed(self, station: Station, ds: DetectorStream, stage: str) -> None:
        """As in the pipeline, a failing detector is counted and skipped; a failing book stops the replay."""
        if stage != "detector":
            raise
        self.errors += 1

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
    lifecycle
        The warning book's parameters (production's ``[lifecycle]`` settings; defaults when None).
    """

    def __init__(self, catalog: Catalog, stations: Sequence[Station], names: Sequence[str], params: dict,
                 production: dict[tuple[str, str], list[dict]] | None = None,
                 lifecycle: LifecycleParams | None = None) -> None:
        self.book = WarningBook(catalog, lifecycle)
        private = self.book.params.private_hazards
        self.private = set(private)
        production = production or {}
        specs = [get(name) for name in names]
        self.runs = {st.key: StationRun(st, specs, params, private, production.get(st.key, ()))
                     for st in stations}
        self.seconds = 0.0

    def feed(self, chunk: Chunk) -> None:
        """Replay one chunk's reading sets (in order) and record each station's outputs."""
        started = time.perf_counter()
        runs = self.runs
        for key, n in chunk.failed.items():
            runs[key].failed += n
        failed = chunk.failed_values
        for t_ns, key, x in chunk.rows:
            run = runs[key]
            score, level = self._step(run, x, failed.get((t_ns, *key)) if failed else None)
            self._record(run, t_ns, x, score, level)
        self.seconds += time.perf_counter() - started

    def _step(self, run: StationRun, x: dict, failed: dict[str, float] | None = None) -> tuple[float, int]:
        """Step the station's streams on ``x`` (and its ``failed`` values, for the sensor streams) and
        feed the book (ticking it); the best score (clipped to [0, 1]) and level of the streams scored
        on ``x``."""
        stepper = run.stepper
        stepper.score(x, failed)
        best_score, best_level = 0.0, 0
        for ds in stepper.streams:
            if ds.x is not x:
                continue
            s = ds.score
            if s == s:
                best_score = max(best_score, min(max(float(s), 0.0), 1.0))
            best_level = max(best_level, int(ds.level))
        events = stepper.decide(self.book, x)
        events += self.book.tick(x["t"])
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
        run.plot.add([t_ns / NS, *values, warned, produced])

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
                    w.writerow([stamp(t_ns), *(_num(v) for v in values), f"{score:.6f}", level, warned, produced])
            run.rows.clear()


def _num(v: float) -> str:
    return "" if v != v else f"{v:.6g}"
