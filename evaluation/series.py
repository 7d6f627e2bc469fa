"""What every data set loader returns: recorded :class:`Series` with their labelled events.

The shared vocabulary of :mod:`evaluation.datasets` and its format families
(:mod:`evaluation.usgs_floods`, :mod:`evaluation.water_quality_sets`): the series and event types,
time and cell parsing, runs of labels, unit scales and the synthetic catalog station of a
recorded series.

Examples
--------
>>> t = np.array([0.0, 60.0, 120.0])
>>> events_from_labels(t, [False, True, True])
(Event(start=60.0, end=120.0, reference=60.0),)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

import numpy as np

from riverwatch.catalog import Station
from riverwatch.units import conversion

_EXTRA_SCALES = {"m3/h": 1 / 3600.0}


@dataclass(frozen=True, slots=True)
class Event:
    """A labelled event: its window ``[start, end]`` and the time lead is measured against (epoch s)."""

    start: float
    end: float
    reference: float


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """One recorded station stream set, ready to replay.

    ``t`` are epoch seconds (sorted), ``columns`` maps each quantity key to its canonical values
    (NaN where missing), ``events`` are the labelled events and ``quiet`` marks a period where no
    warning at all is expected. ``category`` and ``name`` place the results (``DIR/category/name``).
    """

    name: str
    category: str
    station: Station
    t: np.ndarray
    columns: dict[str, np.ndarray]
    events: tuple[Event, ...] = ()
    quiet: bool = False
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t)

    @property
    def days(self) -> float:
        """Length of the recording in days."""
        return float(self.t[-1] - self.t[0]) / 86400.0 if len(self.t) > 1 else 0.0


@dataclass(frozen=True, slots=True)
class FaultRun:
    """A labelled sensor fault: the quantity, the expert's fault type, first and last row."""

    quantity: str
    kind: str
    first: int
    last: int


def parse_time(text: str) -> float:
    """Epoch seconds of an ISO-8601 time; naive times are UTC.

    >>> parse_time("2014-04-01 00:05:00"), parse_time("2013-10-24T00:00:00.000-05:00")
    (1396310700.0, 1382590800.0)
    """
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def to_float(text: str) -> float:
    """``float(text)``, NaN for empty, ``NA`` or otherwise unreadable cells."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def runs(flags: Iterable[bool]) -> list[tuple[int, int]]:
    """Index ranges ``(first, last)`` of the runs of true flags.

    >>> runs([0, 1, 1, 0, 1])
    [(1, 2), (4, 4)]
    """
    out, start = [], None
    i = -1
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, i))
    return out


def scale_of(quantity: str, unit: str) -> tuple[float, float]:
    """Conversion ``(scale, offset)`` to canonical units, also for the GECCO-only keys."""
    if unit in _EXTRA_SCALES:
        return _EXTRA_SCALES[unit], 0.0
    try:
        return conversion(quantity, unit)
    except Exception:  # a quantity outside the contract (e.g. chlorine_2): same unit as its sibling
        return conversion(quantity.rsplit("_", 1)[0], unit)


def synthetic_station(name: str, quantities: Iterable[str], *, kind: str = "replay",
                      partner: str = "replay", plausible: bool = True) -> Station:
    """A catalog station for a recorded series (no thresholds: the data set has none).

    ``plausible=False`` lifts the plausible range (generic series such as NAB's are not physical).
    """
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in name)[:64] or "series"
    specs = {q: ({} if plausible else {"plausible": None}) for q in quantities}
    return Station(id=safe, partner=partner, kind=kind, name=name, lat=0.0, lon=0.0, quantities=specs)


def events_from_labels(t: np.ndarray, labels: Iterable[bool]) -> tuple[Event, ...]:
    """One event per run of true labels, lead measured from the run's first row."""
    return tuple(Event(float(t[a]), float(t[b]), float(t[a])) for a, b in runs(labels))


def sorted_columns(t: list[float], columns: dict[str, list[float]], labels: list[bool] | None):
    """Times, columns and labels as arrays in time order (a stable sort: equal times keep file order).

    >>> t, cols, labels = sorted_columns([2.0, 1.0], {"q": [20.0, 10.0]}, [True, False])
    >>> t.tolist(), cols["q"].tolist(), labels.tolist()
    ([1.0, 2.0], [10.0, 20.0], [False, True])
    """
    order = np.argsort(np.asarray(t), kind="stable")
    tt = np.asarray(t, dtype=float)[order]
    cols = {k: np.asarray(v, dtype=float)[order] for k, v in columns.items()}
    labs = None if labels is None else np.asarray(labels, dtype=bool)[order]
    return tt, cols, labs


def thinned(series: Series, seconds: float) -> Series:
    """``series`` as a gauge sending a reading at most every ``seconds`` would have sent it: each
    reading kept is the first one at least ``seconds`` after the last kept. Events keep their times
    (lead is still measured from the recorded crossing); fault runs keep the rows left inside them
    (a run left with none is dropped); per-row arrays in ``meta`` are thinned alike.

    >>> s = Series("s", "c", synthetic_station("s", ["water_level"]), np.arange(0.0, 3600.0, 900.0),
    ...            {"water_level": np.array([1.0, 2.0, 3.0, 4.0])},
    ...            meta={"faults": (FaultRun("water_level", "A", 1, 1), FaultRun("water_level", "B", 2, 3))})
    >>> t = thinned(s, 1800.0)
    >>> t.t.tolist(), t.columns["water_level"].tolist(), t.meta["faults"]
    ([0.0, 1800.0], [1.0, 3.0], (FaultRun(quantity='water_level', kind='B', first=1, last=1),))
    """
    keep, last = [], -math.inf
    for i, ti in enumerate(series.t):
        if ti - last >= seconds:
            keep.append(i)
            last = ti
    rows = np.asarray(keep, dtype=int)
    meta = {k: v[rows] if isinstance(v, np.ndarray) and len(v) == len(series.t) else v
            for k, v in series.meta.items()}
    if "faults" in meta:
        kept = (_thinned_run(f, rows) for f in meta["faults"])
        meta["faults"] = tuple(f for f in kept if f is not None)
    return Series(series.name, series.category, series.station, series.t[rows],
                  {q: v[rows] for q, v in series.columns.items()}, series.events, series.quiet, meta)


def _thinned_run(run: FaultRun, rows: np.ndarray) -> FaultRun | None:
    """``run`` on the kept ``rows`` (their new indices), or None when none of its rows is kept."""
    inside = np.flatnonzero((rows >= run.first) & (rows <= run.last))
    return FaultRun(run.quantity, run.kind, int(inside[0]), int(inside[-1])) if len(inside) else None
