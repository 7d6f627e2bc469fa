"""Replay recorded series through the registered detectors, exactly as the pipeline calls them.

For every reading the station's reading set ``x = {"t": …, <quantity>: value, …}`` (missing values
left out, as QC-failed values are) goes to each detector stream built with
``detectors.base.get(name).build(station, quantity, params)``: ``score_one(x)``, then
``learn_one(x)``, then ``level(score)``. A warning is *raised* when a hazard's highest level over its
streams leaves ``NONE``, and ends when it returns there; ``evidence`` is taken at the raise.
Streams run in the pipeline's order (:func:`early_warning.lifecycle.sensor_streams_first`), so that with ``lifecycle=True``
the warning book judges a reading's warnings knowing that reading's sensor flags, as in production.

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

from detectors.base import DetectorSpec, get
from evaluation.datasets import Series
from early_warning.lifecycle import WarningBook, hazard_of, sensor_streams_first, stream_id
from riverwatch.catalog import Catalog, Partner
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


def build_streams(series: Series, names: Sequence[str], params: Mapping[str, Mapping[str, Any]]):
    """``[(name, hazard, quantity, detector)]`` for every stream each detector applies to."""
    streams = []
    for name in names:
        spec: DetectorSpec = get(name)
        for quantity in spec.applies(series.station):
            if quantity is not None and quantity not in series.columns:
                continue
            streams.append((name, spec.hazard, quantity, spec.build(series.station, quantity, params.get(name))))
    return streams


def readings(series: Series) -> list[dict[str, float]]:
    """The reading sets ``x`` of a series (NaN values left out)."""
    keys = list(series.columns)
    cols = [series.columns[k].tolist() for k in keys]
    out = []
    for i, t in enumerate(series.t.tolist()):
        x = {"t": t}
        for k, col in zip(keys, cols):
            v = col[i]
            if v == v:
                x[k] = v
        out.append(x)
    return out


def replay(series: Series, names: Sequence[str], params: Mapping[str, Mapping[str, Any]] | None = None,
           progress: Any = None, *, lifecycle: bool = False) -> ReplayResult:
    """Run the detectors ``names`` over ``series``; ``progress`` is a tqdm bar updated per 1,000 rows.

    ``lifecycle=True`` also feeds every stream's level to a production :class:`WarningBook` (one
    station, default lifecycle parameters; sensor streams first, as the pipeline does) and keeps its
    events — which warnings are public and which are maintenance notices — in
    ``ReplayResult.lifecycle``.
    """
    params = params or {}
    book = feed = None
    events: list[WarningEvent] = []
    private: tuple[str, ...] = ("sensor",)
    if lifecycle:
        station = series.station
        book = WarningBook(Catalog(partners=[Partner(id=station.partner, name=station.partner, country="ZZ")],
                                   stations=[station]))
        private = book.params.private_hazards
    streams = sensor_streams_first(build_streams(series, names, params),
                                   lambda stream: hazard_of(stream[3], stream[1]), private)
    if book is not None:
        feed = [(hazard_of(det, hazard), stream_id(name, q)) for name, hazard, q, det in streams]
    xs = readings(series)
    n = len(xs)
    started = time.perf_counter()
    score_lists = [[0.0] * n for _ in streams]
    level_lists = [[0] * n for _ in streams]
    findings: dict[tuple[int, int], Any] = {}
    hooks = [(k, q, det.score_one, det.learn_one, det.level, det.evidence, score_lists[k], level_lists[k])
             for k, (name, _, q, det) in enumerate(streams)]
    previous = [0] * len(hooks)
    now: list[tuple[int, float, Any]] = []  # (stream, score, level) of the streams scored on this reading
    for i, x in enumerate(xs):
        now.clear()
        for k, q, score_one, learn_one, level, evidence, out, lv in hooks:
            if q is not None and q not in x:
                continue
            s = score_one(x)
            current = level(s)
            if current and not previous[k]:
                findings[(k, i)] = evidence(x, s)  # taken when the warning opens, before learning
            learn_one(x)
            previous[k] = current
            out[i] = s
            lv[i] = current
            now.append((k, s, current))
        if book is not None:
            events += _decide(book, series.station, feed, hooks, now, x)
        if progress is not None and i % 1000 == 999:
            progress.update(1000)
    if progress is not None:
        progress.update(n % 1000)
    seconds = time.perf_counter() - started
    stream_scores = {f"{name}:{q}": np.asarray(sl, dtype=float) for (name, _, q, _), sl in zip(streams, score_lists)}
    stream_levels = [np.asarray(lv, dtype=np.int8) for lv in level_lists]
    warnings = _raised(series, streams, stream_scores, stream_levels, xs, findings)
    scores = np.zeros(n)
    levels = np.zeros(n, dtype=np.int8)
    for (name, _, q, _), lv in zip(streams, stream_levels):
        s = stream_scores[f"{name}:{q}"]
        np.maximum(scores, np.clip(np.nan_to_num(s, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0), out=scores)
        np.maximum(levels, lv, out=levels)
    return ReplayResult(series, scores, levels, stream_scores, tuple(warnings), seconds, tuple(events),
                        {f"{name}:{q}": lv for (name, _, q, _), lv in zip(streams, stream_levels)},
                        {f"{name}:{q}": hazard_of(det, hz) for name, hz, q, det in streams})


def _decide(book: WarningBook, station, feed, hooks, now, x) -> list[WarningEvent]:
    """Feed the book the levels of one reading as the pipeline does: after every stream has scored
    and learnt it, in stream order, with the evidence taken after learning."""
    events: list[WarningEvent] = []
    for k, s, current in now:
        hz, sid = feed[k]
        if current or book.pending(station.key, sid):
            evidence = hooks[k][5]
            events += book.update(station, hz, sid, current, x["t"], lambda ev=evidence, s=s: ev(x, s))
    events += book.tick(x["t"])
    return events


def _raised(series: Series, streams, stream_scores, stream_levels, xs, findings) -> list[RaisedWarning]:
    """Warnings per hazard: raised when its highest level leaves NONE, ended when it returns."""
    out = []
    t = series.t
    for hazard in sorted({h for _, h, _, _ in streams}):
        members = [k for k, s in enumerate(streams) if s[1] == hazard]
        level = np.max([stream_levels[k] for k in members], axis=0)
        active = level > 0
        starts = np.flatnonzero(active & ~np.r_[False, active[:-1]])
        for start in starts.tolist():
            stop = start
            while stop + 1 < len(active) and active[stop + 1]:
                stop += 1
            k = max(members, key=lambda m: stream_levels[m][start])
            name, _, q, det = streams[k]
            score = float(stream_scores[f"{name}:{q}"][start])
            finding = findings.get((k, start))
            quantity = finding.quantity if finding is not None else (q or "")
            value = finding.value if finding is not None else float(xs[start].get(quantity, math.nan))
            out.append(RaisedWarning(start, float(t[start]), hazard, name, quantity, int(level[start]),
                                     score, value, stop, float(t[stop])))
    out.sort(key=lambda w: (w.index, w.hazard))
    return out
