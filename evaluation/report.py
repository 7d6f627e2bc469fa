"""Per-series result files of ``riverwatch evaluate``: the per-row CSV and the warning timeline.

Per row, the hazard level (highest level of the hazard streams), the sensor level (highest level of
the sensor-problem streams) and, for formats replayed through the warning lifecycle, the public
level (highest level of the public warnings open at that row) are separate columns: a sensor flag is
a maintenance notice, not a hazard. A warning is labelled by the hazard the lifecycle publishes it
under (rate of rise on turbidity is water quality), not by its detector's family.

Examples
--------
>>> import numpy as np
>>> from evaluation.datasets import Series, synthetic_station
>>> from evaluation.replay import replay
>>> st = synthetic_station("demo", ["water_level"], plausible=False)
>>> s = Series("demo.csv", "demo", st, 300.0 * np.arange(6), {"water_level": np.zeros(6)})
>>> r = replay(s, ["adaptive_anomaly"])
>>> row_levels(r)["hazard_level"].tolist(), row_levels(r)["public_level"]
([0, 0, 0, 0, 0, 0], None)
"""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from evaluation import datasets
from evaluation.replay import RaisedWarning, ReplayResult

#: Hazards that are maintenance notices, never public warnings.
PRIVATE_HAZARDS = ("sensor",)


def row_levels(result: ReplayResult) -> dict[str, np.ndarray | None]:
    """``hazard_level``, ``sensor_level`` and ``public_level`` (None without a lifecycle) per row."""
    n = len(result.series)
    hazard, sensor = np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.int8)
    for name, levels in result.stream_levels.items():
        target = sensor if result.stream_hazards.get(name) in PRIVATE_HAZARDS else hazard
        np.maximum(target, levels, out=target)
    if not result.stream_levels:
        hazard = np.asarray(result.levels, dtype=np.int8)
    public = public_levels(result.series.t, result.lifecycle) if result.lifecycle else None
    return {"hazard_level": hazard, "sensor_level": sensor, "public_level": public}


def public_levels(t: np.ndarray, lifecycle: Sequence) -> np.ndarray:
    """Highest level of the public warnings open at each row (lifecycle events in time order).

    >>> from types import SimpleNamespace as E
    >>> ev = [E(id="a", hazard="flood", level=2, public=False, state="raised", time_ns=1_000_000_000),
    ...       E(id="a", hazard="flood", level=2, public=True, state="updated", time_ns=2_000_000_000),
    ...       E(id="a", hazard="flood", level=0, public=True, state="cleared", time_ns=4_000_000_000)]
    >>> public_levels(np.arange(6.0), ev).tolist()
    [0, 0, 2, 2, 0, 0]
    """
    out = np.zeros(len(t), dtype=np.int8)
    open_: dict[str, int] = {}
    times, levels = [], []
    for e in lifecycle:
        if e.hazard in PRIVATE_HAZARDS:
            continue
        if e.state == "cleared" or not e.public:
            open_.pop(e.id, None)
        else:
            open_[e.id] = int(e.level)
        times.append(e.time_ns / 1e9)
        levels.append(max(open_.values(), default=0))
    if times:
        k = np.searchsorted(np.asarray(times), np.asarray(t, dtype=float), side="right") - 1
        out[k >= 0] = np.asarray(levels, dtype=np.int8)[k[k >= 0]]
    return out


def published_hazard(result: ReplayResult, warning: RaisedWarning) -> str:
    """The hazard the lifecycle gives the stream that drove ``warning`` (its family's otherwise)."""
    for key in (f"{warning.detector}:{warning.quantity}", f"{warning.detector}:None"):
        if key in result.stream_hazards:
            return result.stream_hazards[key]
    return warning.hazard


def write_results(results: Sequence[ReplayResult], out: Path, fmt: str) -> None:
    """Per-series CSVs: NAB's results layout for ``nab``; per-row scores and levels and a warning
    timeline otherwise."""
    for r in results:
        folder = out / r.series.category
        folder.mkdir(parents=True, exist_ok=True)
        stem = r.series.name.removesuffix(".csv")
        with open(folder / f"{stem}.csv", "w", newline="") as fh:
            if fmt == "nab":
                _write_nab_rows(csv.writer(fh), r)
            else:
                _write_rows(csv.writer(fh), r)
        if fmt != "nab":
            _write_warnings(folder / f"{stem}_warnings.csv", r)


def _write_nab_rows(w, r: ReplayResult) -> None:
    values = next(iter(r.series.columns.values()))
    w.writerow(["timestamp", "value", "anomaly_score"])
    w.writerows([stamp(t), num(v), f"{sc:.6f}"] for t, v, sc in zip(r.series.t.tolist(), values.tolist(),
                                                                    r.scores.tolist()))


def _write_rows(w, r: ReplayResult) -> None:
    s = r.series
    keys = list(s.columns)
    label = label_rows(s)
    lv = row_levels(r)
    public = lv["public_level"]
    w.writerow(["timestamp", *keys, "anomaly_score", "hazard_level", "sensor_level", "public_level", "label"])
    cols = [s.columns[k].tolist() for k in keys]
    hazard, sensor = lv["hazard_level"].tolist(), lv["sensor_level"].tolist()
    pub = public.tolist() if public is not None else [""] * len(s)
    for i, t in enumerate(s.t.tolist()):
        w.writerow([stamp(t), *(num(c[i]) for c in cols), f"{r.scores[i]:.6f}", hazard[i], sensor[i], pub[i],
                    int(label[i])])


def _write_warnings(path: Path, r: ReplayResult) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["raised", "ended", "hazard", "level", "detector", "quantity", "value", "score", "fault"])
        for warn in r.warnings:
            w.writerow([stamp(warn.time), stamp(warn.end_time), published_hazard(r, warn), warn.level,
                        warn.detector, warn.quantity, num(warn.value), f"{warn.score:.6g}", warn.fault])


def label_rows(s: datasets.Series) -> np.ndarray:
    """True on the rows inside a labelled event."""
    label = np.zeros(len(s), dtype=bool)
    for ev in s.events:
        label |= (s.t >= ev.start) & (s.t <= ev.end)
    return label


def stamp(t: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) of epoch seconds."""
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def num(v: float) -> str:
    """A value for a CSV cell: empty for NaN, 6 significant digits otherwise."""
    return "" if v != v else f"{v:.6g}"
