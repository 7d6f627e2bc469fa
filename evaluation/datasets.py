"""Loaders that turn recorded data sets into :class:`Series` the replay feeds to detectors.

Every loader returns series in canonical units (``riverwatch.units``) with their labelled events,
so the replay and the metrics never see a file format. :func:`load` is the one entry; NAB and
generic CSVs are read here, the other families in :mod:`evaluation.usgs_floods` and
:mod:`evaluation.water_quality_sets`, on the types of :mod:`evaluation.series`. Layouts (see
``../shared/data/README.md``):

``nab``   a folder of category folders of ``timestamp,value`` CSVs with ``combined_windows.json``
          (anomaly windows) and ``profiles.json`` at its root.
``usgs``  a folder of flood-event CSVs (stage in ft, discharge in cfs) with
          ``station_event_summary.csv``; events are the runs of ``rise_label`` = 1 per station, lead
          time is measured from the first half-rise crossing of each run. ``weather_<event>.csv``
          (NOAA ISD hourly airport weather) adds one ``weather`` series per airport measuring
          precipitation (``precip_1hr_mm``); it has no events of its own.
``gecco`` one GECCO water-quality CSV (one multivariate station); events are the runs of EVENT=true.
``csv``   generic ``timestamp,value[,label]``; events are the runs of label = 1/true.
``qld``   a river sonde CSV ``Timestamp,Level,Cond,Tur,label_<var>,type_<var>`` (m, µS/cm, NTU) with
          expert labels of sensor faults; no hazard events (real high flows are labelled normal),
          the fault runs (per variable and fault type) are in ``meta["faults"]``.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "s.csv").write_text("timestamp,value,label\\n2020-01-01 00:00,1,0\\n2020-01-01 00:05,9,1\\n")
>>> [s] = load("csv", d / "s.csv")
>>> s.name, len(s), bool(s.events[0].start == s.t[1])
('s.csv', 2, True)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable, Iterable

from riverwatch.errors import ConfigError

from evaluation.series import (Event, FaultRun, Series, events_from_labels, parse_time, runs, scale_of,
                               sorted_columns, synthetic_station, to_float)
from evaluation.usgs_floods import (ISD_RAIN_COLUMN, ISD_TRACE_MM, WEATHER_KIND, is_weather, isd_rain_mm,
                                    load_isd_rain, load_usgs)
from evaluation.water_quality_sets import GECCO_COLUMNS, QLD_COLUMNS, load_gecco, load_qld

__all__ = ["FORMATS", "GECCO_COLUMNS", "ISD_RAIN_COLUMN", "ISD_TRACE_MM", "QLD_COLUMNS", "WEATHER_KIND", "Event",
           "FaultRun", "Series", "events_from_labels", "is_weather", "isd_rain_mm", "load", "load_csv", "load_gecco",
           "load_isd_rain", "load_nab", "load_qld", "load_usgs", "nab_profiles", "parse_time", "runs", "scale_of",
           "synthetic_station", "to_float"]

FORMATS = ("nab", "gecco", "usgs", "csv", "qld")


def load(fmt: str, path: str | Path, **options) -> list[Series]:
    """Load the data set at ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    loaders: dict[str, Callable[..., list[Series]]] = {
        "nab": load_nab, "gecco": load_gecco, "usgs": load_usgs, "csv": load_csv, "qld": load_qld}
    if fmt not in loaders:
        raise ConfigError(f"option --format: {fmt!r} is not one of {', '.join(FORMATS)}")
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"evaluate: data {path} not found")
    return loaders[fmt](path, **options)


# --- NAB -----------------------------------------------------------------------------------------

def load_nab(path: Path, *, categories: Iterable[str] | None = None, quantity: str = "water_level",
             limit: int | None = None) -> list[Series]:
    """NAB corpus: one series per CSV, events from ``combined_windows.json``.

    ``categories`` restricts to some category folders (e.g. the five ``real*`` ones); the value is
    handed to detectors under ``quantity`` (NAB values are not physical: no plausible range).
    """
    windows = json.loads((path / "combined_windows.json").read_text())
    wanted = set(categories) if categories else None
    out = []
    for key in sorted(windows):
        category, file = key.split("/", 1)
        if wanted is not None and category not in wanted:
            continue
        csv_path = path / category / file
        if not csv_path.exists():
            continue
        t, cols, _ = _read_simple(csv_path, quantity)
        events = tuple(Event(parse_time(a), parse_time(b), parse_time(a)) for a, b in windows[key])
        station = synthetic_station(file.removesuffix(".csv"), [quantity], plausible=False)
        out.append(Series(file, category, station, t, cols, events, meta={"key": key}))
        if limit and len(out) >= limit:
            break
    return out


def nab_profiles(path: Path) -> dict[str, dict[str, float]]:
    """The scoring profiles of a NAB folder: ``{profile: {tp, fp, fn}}`` weights."""
    raw = json.loads((path / "profiles.json").read_text())
    return {name: {"tp": p["CostMatrix"]["tpWeight"], "fp": p["CostMatrix"]["fpWeight"],
                   "fn": p["CostMatrix"]["fnWeight"]} for name, p in raw.items()}


def _read_simple(csv_path: Path, quantity: str):
    t, v, lab = [], [], []
    with open(csv_path, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader)]
        if header[:2] != ["timestamp", "value"]:
            raise ConfigError(f"evaluate: {csv_path} must have columns timestamp,value[,label]")
        has_label = len(header) > 2
        for row in reader:
            if not row:
                continue
            t.append(parse_time(row[0]))
            v.append(to_float(row[1]))
            if has_label:
                lab.append(row[2].strip().lower() in ("1", "true", "yes", "1.0"))
    tt, cols, labs = sorted_columns(t, {quantity: v}, lab if has_label else None)
    return tt, cols, labs


# --- generic CSV ---------------------------------------------------------------------------------

def load_csv(path: Path, *, quantity: str = "water_level") -> list[Series]:
    """Generic ``timestamp,value[,label]`` CSV (a file, or a folder of them)."""
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    out = []
    for file in files:
        t, cols, labels = _read_simple(file, quantity)
        events = events_from_labels(t, labels) if labels is not None else ()
        station = synthetic_station(file.stem, [quantity], plausible=False)
        out.append(Series(file.name, file.parent.name or "csv", station, t, cols, events))
    return out
