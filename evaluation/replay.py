"""Replay recorded series through the registered detectors, exactly as the pipeline calls them.

For every reading the station's reading set ``x = {"t": …, <quantity>: value, …}`` (missing values
left out, and so are values outside the station quantity's plausible range, which production's QC
fails) goes through the station's detector streams by the production
stepper (:class:`early_warning.stepper.StationStepper`): ``score_one(x)``, then ``learn_one(x)``,
then ``level(score)``, sensor streams first, so that with ``lifecycle=True`` the warning book judges
a reading's warnings knowing that reading's sensor flags, as in production. A warning is *raised*
when a hazard's highest level over its streams leaves ``NONE``, and ends when it returns there;
``evidence`` is taken at the raise (after the reading was learnt, as the book takes it).

Examples
--------
>>> import numpy as np
>>> from evaluation.datasets import Series, synthetic_station
>>> st = synthetic_station("demo", ["water_level"], plausible=False)
>>> v = np.r_[np.sin(np.arange(900) / 9.0), 8.0, np.zeros(99)]
>>> s = Series("demo.csv", "demo", st, 300.0 * np.arange(1000), {"water_level": v})
>>> r = replay(s, ["adaptive_anomaly"], {"adaptive_anomaly": {"probation": 300}})
>>> [w.index for w in r.warnings], r.scores.shape
([900], (1000,))
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from detectors.base import get
from evaluation.datasets import Series
from early_warning.lifecycle import WarningBook
from early_warning.stepper import StationStepper
from riverwatch.catalog import Catalog, Partner, Station
from riverwatch.errors import ConfigError
from riverwatch.model import WarningEvent




@dataclass(frozen=True, slots=True)
class RaisedWarning:
    """One warning raised during a replay: when (row and epoch s), why, and until when."""

    index: int
    time: float
    hazard: str
    detector: str
    quantity: str
    level: int
    score: float
    value: float
    end_index: int
    end_time: float
    fault: str = ""       # the sensor fault the finding named (spike, stuck …); "" for hazards


@dataclass(frozen=True, slots=True, eq=False)
class ReplayResult:
    """Per-row scores (max over streams, clipped to [0, 1]) and levels, raised warnings, timing."""

    series: Series
    scores: np.ndarray
    levels: np.ndarray
    stream_scores: dict[str, np.ndarray]
    warnings: tuple[RaisedWarning, ...]
    seconds: float
    lifecycle: tuple[WarningEvent, ...] = ()
    stream_levels: dict[str, np.ndarray] = field(default_factory=dict)
    stream_hazards: dict[str, str] = field(default_factory=dict)
    failed_qc: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def values_failed_qc(self) -> int:
        """How many values production's QC fails, left out of the replay (see :func:`readings`)."""
        return sum(int(m.sum()) for m in self.failed_qc.values())

    def warnings_for(self, *, exclude: Iterable[str] = ("sensor",)) -> list[RaisedWarning]:
        """Raised warnings except those of the ``exclude`` hazards (sensor problems by default)."""
        skip = set(exclude)
        return [w for w in self.warnings if w.hazard not in skip]


def split_params(names: Sequence[str], pairs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Turn ``k=v`` / ``detector.k=v`` options into parameters per detector.

    A plain ``k`` goes to every selected detector whose parameter model has that field.

    Values are read as JSON when they parse (``levels=[3,6,9,12]``), a comma list becomes a list.

    >>> split_params(["adaptive_anomaly"], ["hold=50", "adaptive_anomaly.threshold=0.6"])
    {'adaptive_anomaly': {'hold': 50, 'threshold': 0.6}}
    """
    specs = {name: get(name) for name in names}
    out: dict[str, dict[str, Any]] = {name: {} for name in names}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        value = parse_value(text)
        if not sep:
            raise ConfigError(f"option --param: {pair!r} is not k=v")
        target, dot, field = key.rpartition(".")
        if dot:
            if target not in out:
                raise ConfigError(f"option --param: detector {target!r} is not selected")
            out[target][field] = value
            continue
        takers = [n for n, spec in specs.items() if field in spec.params.model_fields]
        if not takers:
            raise ConfigError(f"option --param: no selected detector has a parameter {field!r}")
        for name in takers:
            out[name][field] = value
    for name, spec in specs.items():
        spec.parse_params(out[name])  # check once, naming the detector and option
    return out


def parse_value(text: str) -> Any:
    """A ``--param`` value: JSON if it parses, a list for ``a,b,c``, the text otherwise.

    >>> parse_value("3"), parse_value("1,2.5"), parse_value("true"), parse_value("abc")
    (3, [1, 2.5], True, 'abc')
    """
    try:
        return json.loads(text)
    except ValueError:
        pass
    if "," in text:
        return [parse_value(part) for part in text.split(",")]
    return text


def readings(series: Series) -> list[dict[str, float]]:
    """The reading sets ``x`` of a series: NaN values left out, and values outside the station
    quantity's plausible range, which production's QC fails and never hands to a detector.

    >>> from evaluation.datasets import synthetic_station
    >>> st = synthetic_station("s", ["water_level"])
    >>> readings(Series("s", "c", st, np.arange(3.0), {"water_level": np.array([1.0, -9999.0, np.nan])}))
    [{'t': 0.0, 'water_level': 1.0}, {'t': 1.0}, {'t': 2.0}]
    """
    keys = list(series.columns)
    cols = [series.columns[k].tolist() for k in keys]
    ranges = [plausible_range(series.station, k) for k in keys]
    out = []
    for i, t in enumerate(series.t.tolist()):
        x = {"t": t}
        for k, col, (lo, hi) in zip(keys, cols, ranges):
            v = col[i]
            if lo <= v <= hi:
                x[k] = v
        out.append(x)
    return out


def plausible_range(station: Station, quantity: str) -> tuple[float, float]:
    """The values of ``quantity`` production's QC passes at ``station`` (its gross-range test)."""
    spec = station.quantities.get(quantity)
    return spec.plausible if spec is not None and spec.plausible is not None else (-math.inf, math.inf)


def failed_qc(series: Series) -> dict[str, np.ndarray]:
    """Per quantity with any, the rows whose value production's QC fails (see :func:`readings`).

    >>> from evaluation.datasets import synthetic_station
    >>> st = synthetic_station("s", ["water_level"])
    >>> failed_qc(Series("s", "c", st, np.arange(3.0), {"water_level": np.array([1.0, -9999.0, np.nan])}))
    {'water_level': array([False,  True, False])}
    """
    out = {}
    for q, col in series.columns.items():
        lo, hi = plausible_range(series.station, q)
        bad = (col < lo) | (col > hi)
        if bad.any():
            out[q] = bad
    return out


def failed_values(series: Series, failed: Mapping[str, np.ndarray]) -> dict[int, dict[str, float]]:
    """The values QC fails, by row (``failed``: :func:`failed_qc`), for the sensor streams only
    (:meth:`early_warning.stepper.StationStepper.score`).

    >>> from evaluation.datasets import synthetic_station
    >>> s = Series("s", "c", synthetic_station("s", ["water_level"]), np.arange(3.0),
    ...            {"water_level": np.array([1.0, -9999.0, np.nan])})
    >>> failed_values(s, failed_qc(s))
    {1: {'water_level': -9999.0}}
    """
    out: dict[int, dict[str, float]] = {}
    for q, mask in failed.items():
        col = series.columns[q]
        for i in np.flatnonzero(mask).tolist():
            out.setdefault(i, {})[q] = float(col[i])
    return out


def replay(series: Series, names: Sequence[str], params: Mapping[str, Mapping[str, Any]] | None = None,
           progress: Any = None, *, lifecycle: bool = False) -> ReplayResult:
    """Run the detectors ``names`` over ``series``; ``progress`` is a tqdm bar updated per 1,000 rows.

    ``lifecycle=True`` also feeds every stream's level to a production :class:`WarningBook` (one
    station, default lifecycle parameters; sensor streams first, as the pipeline does), ticking it
    at every reading, and keeps its events — which warnings are public and which are maintenance
    notices — in ``ReplayResult.lifecycle``.
    """
    station = series.station
    book = None
    if lifecycle:
        book = WarningBook(Catalog(partners=[Partner(id=station.partner, name=station.partner, country="ZZ")],
                                   stations=[station]))
    stepper = StationStepper.build(station, [get(name) for name in names], params,
                                   private=book.params.private_hazards if book else ("sensor",),
                                   has=series.columns.__contains__)
    streams = stepper.streams
    xs = readings(series)
    n = len(xs)
    started = time.perf_counter()
    score_lists = [[0.0] * n for _ in streams]
    level_lists = [[0] * n for _ in streams]
    columns = list(enumerate(zip(streams, score_lists, level_lists)))
    previous = [0] * len(streams)
    findings: dict[tuple[int, int], Any] = {}
    events: list[WarningEvent] = []
    failed = failed_qc(series)
    failed_rows = failed_values(series, failed)
    for i, x in enumerate(xs):
        stepper.score(x, failed_rows.get(i))
        for k, (ds, out, lv) in columns:
            if ds.x is not x:
                continue
            current = ds.level
            if current and not previous[k]:
                findings[(k, i)] = ds.evidence()  # taken when the warning opens
            previous[k] = current
            out[i] = ds.score
            lv[i] = current
        if book is not None:
            events += stepper.decide(book, x)
            events += book.tick(x["t"])
        if progress is not None and i % 1000 == 999:
            progress.update(1000)
    if progress is not None:
        progress.update(n % 1000)
    seconds = time.perf_counter() - started
    keys = [f"{ds.name}:{ds.quantity}" for ds in streams]
    stream_scores = {key: np.asarray(sl, dtype=float) for key, sl in zip(keys, score_lists)}
    stream_levels = [np.asarray(lv, dtype=np.int8) for lv in level_lists]
    warnings = _raised(series, streams, stream_scores, stream_levels, xs, findings)
    scores = np.zeros(n)
    levels = np.zeros(n, dtype=np.int8)
    for key, lv in zip(keys, stream_levels):
        s = stream_scores[key]
        np.maximum(scores, np.clip(np.nan_to_num(s, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0), out=scores)
        np.maximum(levels, lv, out=levels)
    return ReplayResult(series, scores, levels, stream_scores, tuple(warnings), seconds, tuple(events),
                        dict(zip(keys, stream_levels)), {key: ds.hazard for key, ds in zip(keys, streams)},
                        failed)


def _raised(series: Series, streams, stream_scores, stream_levels, xs, findings) -> list[RaisedWarning]:
    """Warnings per registered hazard: raised when its highest level leaves NONE, ended when it returns."""
    out = []
    t = series.t
    registered = [get(ds.name).hazard for ds in streams]
    for hazard in sorted(set(registered)):
        members = [k for k, h in enumerate(registered) if h == hazard]
        level = np.max([stream_levels[k] for k in members], axis=0)
        active = level > 0
        starts = np.flatnonzero(active & ~np.r_[False, active[:-1]])
        for start in starts.tolist():
            stop = start
            while stop + 1 < len(active) and active[stop + 1]:
                stop += 1
            k = max(members, key=lambda m: stream_levels[m][start])
            name, q = streams[k].name, streams[k].quantity
            score = float(stream_scores[f"{name}:{q}"][start])
            finding = findings.get((k, start))
            quantity = finding.quantity if finding is not None else (q or "")
            value = finding.value if finding is not None else float(xs[start].get(quantity, math.nan))
            fault = dict(finding.details).get("fault", "") if finding is not None and hazard == "sensor" else ""
            out.append(RaisedWarning(start, float(t[start]), hazard, name, quantity, int(level[start]),
                                     score, value, stop, float(t[stop]), fault))
    out.sort(key=lambda w: (w.index, w.hazard))
    return out
